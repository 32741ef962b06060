"""Alembic environment of the registry service (driven by servicekit.db.upgrade)."""

from registry.db import load_models, metadata
from servicekit.db import run_migrations_online

load_models()
run_migrations_online(metadata)
