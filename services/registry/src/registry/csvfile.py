"""Uploaded CSV files: UTF-8 (a byte-order mark allowed, as spreadsheets write it), comma
or semicolon separated (Dutch spreadsheets save with semicolons), a header row naming the
columns. Problems name the row as a spreadsheet numbers it (the header is row 1) and the
column, as ``rows[N].column`` in ``invalidParams``."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass

from servicekit.errors import BadRequest

CSV_MEDIA_TYPE = "text/csv"


@dataclass(frozen=True)
class CsvRow:
    number: int  # as a spreadsheet shows it: the header is row 1
    values: dict[str, str]


def param(row: int, column: str) -> str:
    return f"rows[{row}].{column}"


def _bad(name: str, reason: str, detail: str) -> BadRequest:
    return BadRequest(detail, invalid_params=[{"name": name, "reason": reason}])


def _header_name(raw: str, aliases: Mapping[str, str]) -> str:
    key = "".join(ch for ch in raw.strip().lower() if ch.isalnum())
    return aliases.get(key, key)


def read_csv(
    body: bytes, columns: tuple[str, ...], aliases: Mapping[str, str], max_rows: int
) -> list[CsvRow]:
    """The data rows of a CSV file with every column in ``columns`` (other columns are
    ignored; header names compare without case, spaces or punctuation, ``aliases`` maps
    further names, e.g. Dutch ones, to a column). Blank lines are skipped. The file as a
    whole being unreadable is a 400 naming ``body`` or ``header``."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _bad("body", "not UTF-8 text", "The file is not UTF-8 text.") from None
    if "\x00" in text:
        raise _bad("body", "contains a NUL character", "The file is not CSV text.")
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    if not first:
        raise _bad("body", "empty file", "The file is empty.")
    delimiter = ";" if first.count(";") > first.count(",") else ","
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise _bad("body", f"not CSV: {exc}", "The file is not CSV.") from None
    numbered = [(n, r) for n, r in enumerate(records, 1) if any(cell.strip() for cell in r)]
    header_number, header = numbered[0]
    names = [_header_name(cell, aliases) for cell in header]
    missing = [c for c in columns if c not in names]
    if missing:
        raise BadRequest(
            f"The header row lacks the columns {', '.join(missing)}.",
            invalid_params=[
                {"name": param(header_number, c), "reason": "missing column"} for c in missing
            ],
        )
    data = numbered[1:]
    if not data:
        raise _bad("body", "no rows below the header", "The file has no rows.")
    if len(data) > max_rows:
        raise _bad(
            "body",
            f"at most {max_rows} rows",
            f"The file has {len(data)} rows; at most {max_rows}.",
        )
    rows = []
    for number, record in data:
        values = {
            name: record[i].strip() if i < len(record) else "" for i, name in enumerate(names)
        }
        rows.append(CsvRow(number, {c: values[c] for c in columns}))
    return rows
