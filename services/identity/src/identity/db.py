"""The identity service's table metadata (never shared with other services)."""

from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from servicekit.idempotency import idempotency_table

mapper_registry = registry()


class Base(SQLModel, registry=mapper_registry):
    """Base class of every identity table."""


metadata = Base.metadata
idempotency_keys = idempotency_table(metadata)


def load_models() -> None:
    """Import every aggregate's models so the metadata is complete (migrations, tests)."""
    from .audit import models as _audit  # noqa: F401
    from .authorization import models as _authorization  # noqa: F401
    from .clients import models as _clients  # noqa: F401
    from .disclosures import models as _disclosures  # noqa: F401
    from .keys import models as _keys  # noqa: F401
    from .registration import models as _registration  # noqa: F401
    from .sessions import models as _sessions  # noqa: F401
    from .tokens import models as _tokens  # noqa: F401
