"""Samen portal: the web front for people."""

VERSION = "0.1.0"
