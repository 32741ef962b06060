"""Samen service kit: what every Samen service and the gateway are built from."""

__version__ = "0.1.0"
