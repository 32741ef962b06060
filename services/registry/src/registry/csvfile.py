"""Uploaded CSV files (usages, population figures): UTF-8 (a byte-order mark allowed, as
spreadsheets write it), comma or semicolon separated (Dutch spreadsheets save with
semicolons), a header row naming the columns. Problems name the line as a spreadsheet
numbers it (the header is line 1) and the column, as ``rows[N].column`` in
``invalidParams``; problems of the file as a whole name ``body``."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass

from servicekit.errors import BadRequest

EXCEL_SEPARATOR = re.compile(r"^sep=([,;\t])\r?$")


@dataclass(frozen=True)
class CsvRow:
    number: int  # the line in the file: the header is line 1
    values: dict[str, str]


def param(row: int, column: str) -> str:
    return f"rows[{row}].{column}"


def file_problem(reason: str, name: str = "body") -> BadRequest:
    return BadRequest(
        f"The CSV file cannot be read: {reason}.", invalid_params=[{"name": name, "reason": reason}]
    )


def read_table(body: bytes, max_rows: int) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header's cells (trimmed) and the data rows with their line numbers, blank
    lines skipped; 400 for a file that is not readable CSV text."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise file_problem("not UTF-8 text") from exc
    if "\x00" in text:
        raise file_problem("NUL characters are not allowed")
    first, _, rest = text.partition("\n")
    hint = EXCEL_SEPARATOR.match(first)
    if hint:
        # Excel's "sep=;" line names the separator; Excel shows the row after it as row 1.
        text, first = rest, rest.split("\n", 1)[0]
        delimiter = hint.group(1)
    else:
        delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[tuple[int, list[str]]] = []
    try:
        header = [cell.strip() for cell in next(reader, [])]
        # A spreadsheet's row is a record: a quoted cell spanning lines is one row (the
        # reader's line_num would count the lines), and a blank line is a row too.
        for number, cells in enumerate(reader, start=2):
            if any(cell.strip() for cell in cells):
                rows.append((number, cells))
            if len(rows) > max_rows:
                raise file_problem(f"more than {max_rows} rows")
    except csv.Error as exc:
        raise file_problem(f"malformed CSV on line {reader.line_num} ({exc})") from exc
    if not any(header):
        raise file_problem("no header row")
    return header, rows


def header_key(raw: str) -> str:
    """A column's name as compared: without case, spaces or punctuation."""
    return "".join(ch for ch in raw.lower() if ch.isalnum())


def _header_name(raw: str, aliases: Mapping[str, str]) -> str:
    key = header_key(raw)
    return aliases.get(key, key)


def read_csv(
    body: bytes, columns: tuple[str, ...], aliases: Mapping[str, str], max_rows: int
) -> list[CsvRow]:
    """The data rows of a CSV file with every column in ``columns``, by column. Header
    names compare without case, spaces or punctuation; ``aliases`` maps further names
    (e.g. Dutch ones) to a column; other columns are ignored."""
    header, records = read_table(body, max_rows)
    names = [_header_name(cell, aliases) for cell in header]
    missing = [c for c in columns if c not in names]
    if missing:
        raise BadRequest(
            f"The header row lacks the columns {', '.join(missing)}.",
            invalid_params=[{"name": param(1, c), "reason": "missing column"} for c in missing],
        )
    if not records:
        raise file_problem("no data rows after the header")
    rows = []
    for number, record in records:
        values = dict(zip(names, (cell.strip() for cell in record), strict=False))
        rows.append(CsvRow(number, {c: values.get(c, "") for c in columns}))
    return rows
