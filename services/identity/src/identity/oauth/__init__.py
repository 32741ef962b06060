"""The OpenID Provider: protocol endpoints, client authentication, tokens."""
