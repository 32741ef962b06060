"""Dutch identifiers, validated at the edge.

python-stdnum has no module for the KvK number, the OIN or the CBS municipality code
(``stdnum.nl`` covers BSN, BTW, BRIN, onderwijsnummer, postcode …), so these three are
checked by their published formats: KvK number 8 digits, OIN 20 digits (Logius, "OIN
stelsel"), CBS code ``GM`` + 4 digits. stdnum's ``clean`` strips the separators people
paste (spaces, dots, dashes) the same way stdnum does for its own numbers.
"""

from __future__ import annotations

import re

from stdnum.util import clean

_KVK = re.compile(r"^[0-9]{8}$")
_OIN = re.compile(r"^[0-9]{20}$")
_CBS = re.compile(r"^GM[0-9]{4}$")


class InvalidIdentifier(ValueError):
    """The value is not a well-formed identifier of this kind."""


def kvk_number(value: str) -> str:
    cleaned = clean(value, " .-").strip()
    if not _KVK.match(cleaned):
        raise InvalidIdentifier("a KvK number is 8 digits")
    return cleaned


def oin(value: str) -> str:
    cleaned = clean(value, " .-").strip()
    if not _OIN.match(cleaned):
        raise InvalidIdentifier("an OIN is 20 digits")
    return cleaned


def cbs_code(value: str) -> str:
    cleaned = value.strip().upper()
    if not _CBS.match(cleaned):
        raise InvalidIdentifier("a CBS municipality code is GM followed by 4 digits")
    return cleaned
