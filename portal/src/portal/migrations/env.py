"""Alembic environment of the portal (driven by servicekit.migrations.upgrade)."""

from portal.db import load_models, metadata
from servicekit.migrations import run_migrations_online

load_models()
run_migrations_online(metadata)
