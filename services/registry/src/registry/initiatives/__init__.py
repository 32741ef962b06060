"""Initiatives (DA2020's Pilotstarter): proposals, support pledges, pilots, impact analyses."""
