"""Vulnerabilities of offering versions and the municipalities exposed to them."""
