"""Integrations (koppelingen) between offerings and a municipality's landscape."""
