"""Base for API schemas: camelCase JSON field names (ADR), snake_case in Python."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Annotated, Any, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationInfo,
    model_validator,
)
from pydantic.alias_generators import to_camel

from .errors import BadRequest


def _nul_path(value: Any, path: str = "") -> str | None:
    """Where a NUL character hides in decoded JSON, if anywhere."""
    if isinstance(value, str):
        return path or "value" if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _nul_path(key, path) if isinstance(key, str) and "\x00" in key else None
            found = found or _nul_path(item, f"{path}.{key}" if path else str(key))
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_path(item, f"{path}[{index}]")
            if found:
                return found
    return None


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date_only(value: Any) -> Any:
    # pydantic also reads numbers (0 -> 1970-01-01) and other spellings as dates; the
    # documents say ``format: date``, so only that is accepted.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return value
    raise ValueError("must be an ISO 8601 date (YYYY-MM-DD)")


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]
"""A calendar date as ISO 8601 ``YYYY-MM-DD`` only (query parameters and bodies)."""


def _iso_datetime_only(value: Any) -> Any:
    # pydantic also reads a number as seconds since 1970; the documents say date-time.
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError("must be an ISO 8601 date and time with its offset")


IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_datetime_only)]
"""A moment as ISO 8601 with its offset (``2027-02-28T23:59:00+01:00``), never a number."""


def _a_json_number(value: Any) -> Any:
    # Decimal would also read "10.000" (ten, where a Dutch reader means ten thousand) and
    # true; the documents say a number.
    if isinstance(value, str | bool):
        raise ValueError("must be a JSON number")
    return value


JsonNumber = BeforeValidator(_a_json_number)
"""For a ``Decimal`` (or other number) field: a JSON number only, never a string."""

# Patterns for text people type, for ``StringConstraints(pattern=…)``: the documents then
# say what is allowed. Never C0 or C1 control characters, nor the bidirectional overrides
# and isolates that make a name read as something else ("invoice\u202efdp.exe"); a line
# holds no line breaks or tabs either, a text may. LINE and FILLED_TEXT also need one
# character other than whitespace.
_BIDI = r"\u202a-\u202e\u2066-\u2069"
_LINE_CHAR = rf"[^\x00-\x1f\x7f-\x9f{_BIDI}]"
_TEXT_CHAR = rf"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI}]"
_VISIBLE = rf"[^\s\x00-\x1f\x7f-\x9f{_BIDI}]"
LINE = rf"^{_LINE_CHAR}*{_VISIBLE}{_LINE_CHAR}*$"
TEXT = rf"^{_TEXT_CHAR}*$"
FILLED_TEXT = rf"^{_TEXT_CHAR}*{_VISIBLE}{_TEXT_CHAR}*$"

FROM_TEXT = {"from_text": True}
"""Validation context for values read from text (CSV cells), where every number is text."""


def _a_json_integer(value: Any, info: ValidationInfo) -> Any:
    # pydantic would read "48" and true (as 1) into an int; a JSON body must say 48. CSV
    # cells are text, so there digits are what an integer looks like.
    from_text = bool(info.context and info.context.get("from_text"))
    if isinstance(value, bool) or (isinstance(value, str) and not from_text):
        raise ValueError("must be a JSON integer")
    return value


def _a_json_boolean(value: Any) -> Any:
    # pydantic would read 1, "yes" and "true" as True; a JSON body must say true. (null
    # is left to the field's type.)
    if value is not None and not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


JsonInteger = BeforeValidator(_a_json_integer)
"""For an ``int`` field of a request body: a JSON integer, not a string or a boolean
(text is read only with the :data:`FROM_TEXT` context)."""

JsonBoolean = BeforeValidator(_a_json_boolean)
"""For a ``bool`` field of a request body: ``true`` or ``false`` only."""


class ApiModel(BaseModel):
    """Request/response schema. JSON uses camelCase; unknown fields are refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        from_attributes=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _refuse_nul_characters(cls, data: Any) -> Any:
        # PostgreSQL cannot store NUL in text; refuse it as bad input (400), everywhere.
        if isinstance(data, dict):
            where = _nul_path(data)
            if where:
                raise ValueError(f"NUL characters are not allowed (in {where})")
        return data


class ApiOutModel(ApiModel):
    """Response schema (ignores extra attributes when built from a table row)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", from_attributes=True
    )

    @model_validator(mode="before")
    @classmethod
    def _refuse_nul_characters(cls, data: Any) -> Any:
        # Responses are built from stored data, which cannot hold NUL (refused on the way
        # in); walking every nested value again on every response is only cost.
        return data

    @classmethod
    def from_row(cls, row: Any, **values: Any) -> Self:
        """This schema from a table or query row: each field from the row's attribute of
        the same name, unless ``values`` gives it (renamed columns, nested or computed
        fields)."""
        fields = {name: getattr(row, name) for name in cls.model_fields if name not in values}
        return cls.model_validate(fields | values)


def patch_changes(
    patch: BaseModel, *, required: Iterable[str] = (), empty: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What a PATCH body changes (fields it leaves out stay as they are). A ``required``
    field set to null is a 400 naming it as the client wrote it; a field of ``empty`` set
    to null becomes that empty value (an empty list or text)."""
    changes = patch.model_dump(exclude_unset=True)
    for key in required:
        if key in changes and changes[key] is None:
            name = type(patch).model_fields[key].alias or key
            raise BadRequest(
                f"{name} cannot be removed.", invalid_params=[{"name": name, "reason": "required"}]
            )
    for key, value in (empty or {}).items():
        if key in changes and changes[key] is None:
            changes[key] = value
    return changes
