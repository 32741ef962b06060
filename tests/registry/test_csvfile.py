"""Uploaded CSV files: rows are numbered as a spreadsheet numbers them."""

from __future__ import annotations

from registry.csvfile import read_table


def test_rows_are_numbered_as_a_spreadsheet_shows_them() -> None:
    # Row 2 holds a quoted cell over two lines, row 4 is blank: a spreadsheet shows the
    # rows as 1 (header), 2, 3, 4 (empty), 5.
    body = (
        "\ufefffacilityId;notes\r\n"
        'telefonie;"first line\r\nsecond line"\r\n'
        "netwerk;plain\r\n"
        "\r\n"
        "archief;last\r\n"
    ).encode()
    header, rows = read_table(body, max_rows=10)
    assert header == ["facilityId", "notes"]
    assert [(number, cells[0]) for number, cells in rows] == [
        (2, "telefonie"),
        (3, "netwerk"),
        (5, "archief"),
    ]
