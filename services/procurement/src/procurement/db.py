"""The procurement service's own table metadata (never shared with other services)."""

from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from servicekit.events import outbox_table
from servicekit.idempotency import idempotency_table

mapper_registry = registry()


class Base(SQLModel, registry=mapper_registry):
    """Base class of every procurement table."""


metadata = Base.metadata
idempotency_keys = idempotency_table(metadata)
event_outbox = outbox_table(metadata)


def load_models() -> None:
    """Import every domain's models so the metadata is complete (migrations, tests)."""
    from . import history  # noqa: F401
    from .enrollments import models as enrollment_models  # noqa: F401
    from .mergers import models as merger_models  # noqa: F401
    from .tenders import models as tender_models  # noqa: F401
