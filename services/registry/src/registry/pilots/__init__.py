"""Pilots: participating municipalities, and the impact analysis before implementation."""
