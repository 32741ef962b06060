"""CSV downloads every service and the portal write the same way: a header row of the
JSON field names, CRLF line ends (RFC 4180), and cells a spreadsheet shows as text.

Cells come from data other people typed (names, titles, notes): a cell starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be a formula in Excel or
LibreOffice (CSV injection, OWASP), so it gets a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel

from .errors import UnsupportedMediaType
from .responses import error_responses

CSV = "text/csv"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """``value`` as a CSV cell that no spreadsheet evaluates; None is empty, booleans are
    ``true``/``false`` as in JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A CSV document: the header, then every row through :func:`safe_cell`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([safe_cell(value) for value in row] for row in rows)
    return out.getvalue()


def _flat(value: Any) -> Any:
    """A list in one cell: its items' names (or the items) separated by semicolons."""
    if isinstance(value, list):
        return "; ".join(
            str(item.get("name", "")) if isinstance(item, dict) else str(item) for item in value
        )
    return value


def models_csv(model: type[BaseModel], items: Iterable[BaseModel]) -> str:
    """API answers as CSV: one column per field of ``model`` named as in its JSON, the
    values as JSON writes them (ISO dates, ``true``/``false``)."""
    columns = [field.alias or name for name, field in model.model_fields.items()]
    rows = []
    for item in items:
        data = item.model_dump(mode="json", by_alias=True)
        rows.append([_flat(data.get(column)) for column in columns])
    return csv_text(columns, rows)


def attachment(body: str | bytes, filename: str, media_type: str) -> Response:
    """A download (``Content-Disposition: attachment``); text types are UTF-8."""
    charset = "; charset=utf-8" if media_type.startswith("text/") or "xml" in media_type else ""
    return Response(
        body,
        media_type=media_type + charset,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def csv_response(body: str, filename: str) -> Response:
    """A CSV download."""
    return attachment(body, filename, CSV)


def csv_responses(description: str, *errors: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` of a CSV download: its 200 and the error codes it answers."""
    return {
        200: {"description": description, "content": {CSV: {"schema": {"type": "string"}}}},
        **error_responses(*errors),
    }


async def csv_body(request: Request, what: str) -> bytes:
    """The body of an upload sent as CSV; 415 for any other media type."""
    if request.headers.get("content-type", "").partition(";")[0].strip().lower() != CSV:
        raise UnsupportedMediaType(f"Send {what} as {CSV}.")
    return await request.body()
