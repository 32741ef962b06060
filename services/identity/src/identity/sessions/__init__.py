"""Login sessions at the OP (the person's browser), their level and step-up."""
