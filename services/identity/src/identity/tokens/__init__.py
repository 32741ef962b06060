"""Issuing tokens (grants), refresh token families, revocation, introspection, userinfo."""
