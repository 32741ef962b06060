"""Decisions ahead: a municipality's coming notice deadlines with what could replace them."""
