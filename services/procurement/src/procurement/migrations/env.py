"""Alembic environment of the procurement service (driven by servicekit.migrations.upgrade)."""

from procurement.db import load_models, metadata
from servicekit.migrations import run_migrations_online

load_models()
run_migrations_online(metadata)
