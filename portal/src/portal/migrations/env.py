"""Alembic environment of the portal (driven by servicekit.db.upgrade)."""

from portal.db import load_models, metadata
from servicekit.db import run_migrations_online

load_models()
run_migrations_online(metadata)
