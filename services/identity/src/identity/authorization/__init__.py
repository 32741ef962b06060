"""Authorization requests (validated, waiting for the login) and the codes they produce."""
