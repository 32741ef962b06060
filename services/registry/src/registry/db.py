"""The registry service's own table metadata (never shared with other services)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, MetaData, String, Table, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from servicekit.clock import UtcDateTime, utcnow
from servicekit.events import outbox_table
from servicekit.idempotency import idempotency_table

metadata = MetaData()
idempotency_keys = idempotency_table(metadata)
event_outbox = outbox_table(metadata)


class Model(DeclarativeBase):
    """Typed declarative base of the registry's domain tables (same metadata)."""

    metadata = metadata
    type_annotation_map: dict[Any, Any] = {
        datetime: UtcDateTime(),
        uuid.UUID: Uuid(),
        list[str]: JSON(),
        list[dict[str, str]]: JSON(),
    }


class Revised:
    """The columns of a row changed with If-Match: its revision (the ETag's) and when it
    was made and last changed."""

    revision: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


row_counts = Table(
    "row_counts",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("n", BigInteger, nullable=False),
    comment="Exact row counts of large tables, kept by triggers on PostgreSQL (0007)",
)


def load_models() -> None:
    """Import every domain's models so the metadata is complete (migrations, tests)."""
    from .changes import models as _changes  # noqa: F401
    from .costs import models as _costs  # noqa: F401
    from .facilities import models as _facilities  # noqa: F401
    from .initiatives import models as _initiatives  # noqa: F401
    from .integrations import models as _integrations  # noqa: F401
    from .mergers import models as _mergers  # noqa: F401
    from .notices import models as _notices  # noqa: F401
    from .offerings import models as _offerings  # noqa: F401
    from .organisations import models as _organisations  # noqa: F401
    from .pilots import models as _pilots  # noqa: F401
    from .usages import models as _usages  # noqa: F401
    from .vulnerabilities import models as _vulnerabilities  # noqa: F401
    from .webhooks import models as _webhooks  # noqa: F401
