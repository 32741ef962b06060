"""BSN masking: a BSN (burgerservicenummer) never reaches a log line, a trace or a problem.

A candidate is any 9 digits, grouped as a person types them: next to each other
(``123456782``, also ``x.123456782``) or with one separator between any two of them, a
space, dot, hyphen or plus, also percent-encoded as in an address (``1234 56 782``,
``123.456.782``, ``1234+56+782``, ``123%20456%20782``); a grouped one stands apart from
letters and digits. Only a candidate that passes the 11-check (python-stdnum) is masked,
and never a part of a longer run of digits (an OIN, an order number). What an address
means is masked, not only its encoded text: the names and values of a query string are
percent- and ``+``-decoded before they are checked (:func:`mask_query`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote, unquote_plus

from stdnum.nl import bsn as stdnum_bsn

BSN_MASK = "[BSN]"

_SEPARATOR = r"(?:[ .+\-]|%2[0bde])"
_ESCAPED = r"(?<=%[0-9a-f]{2})"  # just after a percent-escape (``%20``): not glued on
_BSN_CANDIDATE = re.compile(
    # Nine digits together, not part of a longer run of digits.
    rf"(?:(?<!\d)|{_ESCAPED})\d{{9}}(?!\d)"
    # Nine digits with separators, standing apart from letters and digits: so the hex
    # groups of a UUID (8-4-4-4-12, no run of them holds nine digits) are never one.
    rf"|(?:(?<![0-9a-z])|{_ESCAPED})\d(?:{_SEPARATOR}?\d){{8}}(?![0-9a-z])",
    re.IGNORECASE,
)
_SEPARATORS = re.compile(_SEPARATOR, re.IGNORECASE)
# What an address keeps as written when a masked path is encoded again (RFC 3986).
_PATH_SAFE = ":/@!$&'()*+,;=[]~"
# How deep a logged structure is walked; deeper parts are logged as masked text.
_MAX_DEPTH = 8


def mask_bsns(text: str) -> str:
    """``text`` with every valid BSN in it replaced by ``[BSN]``."""
    found = _BSN_CANDIDATE.search(text)
    if found is None:
        return text
    parts: list[str] = []
    kept = 0
    while found is not None:
        if stdnum_bsn.is_valid(_SEPARATORS.sub("", found.group())):
            parts += (text[kept : found.start()], BSN_MASK)
            kept = found.end()
            found = _BSN_CANDIDATE.search(text, kept)
        else:
            # A candidate that fails the check may hide one that starts inside it
            # (``999 123 456 782``): look again from the next digit.
            found = _BSN_CANDIDATE.search(text, found.start() + 1)
    if not parts:
        return text
    parts.append(text[kept:])
    return "".join(parts)


def mask_query(query: str) -> str:
    """A query string without BSNs, its parameters kept apart: a name or value that
    holds one once decoded is written as its masked decoded text (re-encoded)."""
    if not any(c.isdigit() for c in query):
        return query
    fields = query.split("&")
    for index, field in enumerate(fields):
        pairs = field.split("=", 1)
        for side, raw in enumerate(pairs):
            meant = unquote_plus(raw)
            masked = mask_bsns(meant)
            if masked != meant:
                pairs[side] = quote_plus(masked, safe="[]")
        fields[index] = "=".join(pairs)
    return "&".join(fields)


def mask_url(url: str) -> str:
    """An encoded address without BSNs, masked by what its parts mean: a path that holds
    one once decoded is written as its masked decoded text (re-encoded)."""
    address, hash_mark, fragment = url.partition("#")
    path, mark, query = address.partition("?")
    meant = unquote(path)
    masked = mask_bsns(meant)
    if masked != meant:
        path = quote(masked, safe=_PATH_SAFE)
    return path + mark + (mask_query(query) if mark else "") + hash_mark + mask_bsns(fragment)


def masked_value(value: Any, depth: int = 0) -> Any:
    """``value`` as it may be logged (JSON-able): text masked, a number that is a BSN
    replaced, mappings and sequences walked, anything else as its masked text."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return mask_bsns(value)
    if isinstance(value, int | float):
        return BSN_MASK if mask_bsns(str(value)) != str(value) else value
    if depth < _MAX_DEPTH:
        if isinstance(value, Mapping):
            return {mask_bsns(str(k)): masked_value(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [masked_value(v, depth + 1) for v in value]
    return mask_bsns(str(value))
