"""Append-only history of identity's state changes."""
