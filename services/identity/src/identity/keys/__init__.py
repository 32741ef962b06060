"""The OP's signing keys: generated, sealed at rest, published, rotated."""
