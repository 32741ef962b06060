"""Client (relying party) registry."""
