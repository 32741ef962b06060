"""Alembic environment of the registry service (driven by servicekit.migrations.upgrade)."""

from registry.db import load_models, metadata
from servicekit.migrations import run_migrations_online

load_models()
run_migrations_online(metadata)
