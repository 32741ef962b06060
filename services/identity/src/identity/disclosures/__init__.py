"""Transparency: which client received which of a person's attributes, and when."""
