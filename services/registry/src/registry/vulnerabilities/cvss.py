"""CVE identifiers and CVSS vector strings (FIRST CVSS v3.0, v3.1 and v4.0); scores are
computed from vectors by the ``cvss`` package (FIRST's formulas and tables)."""

from __future__ import annotations

import re
from decimal import Decimal

from cvss import CVSS3, CVSS4

CVE_PATTERN = r"^CVE-[0-9]{4}-[0-9]{4,19}$"
VECTOR_PATTERN = r"^CVSS:(3\.0|3\.1|4\.0)(/[A-Z]{1,3}:[A-Za-z]{1,5})+$"

_CIA = "HLN"
_V3_BASE = {"AV": "NALP", "AC": "LH", "PR": "NLH", "UI": "NR", "S": "UC",
            "C": _CIA, "I": _CIA, "A": _CIA}  # fmt: skip
_V3_MORE = {"E": "XUPFH", "RL": "XOTWU", "RC": "XURC", "CR": "XLMH", "IR": "XLMH",
            "AR": "XLMH", "MAV": "XNALP", "MAC": "XLH", "MPR": "XNLH", "MUI": "XNR",
            "MS": "XUC", "MC": "XNLH", "MI": "XNLH", "MA": "XNLH"}  # fmt: skip
_V4_BASE = {"AV": "NALP", "AC": "LH", "AT": "NP", "PR": "NLH", "UI": "NPA", "VC": _CIA,
            "VI": _CIA, "VA": _CIA, "SC": _CIA, "SI": _CIA, "SA": _CIA}  # fmt: skip
_V4_MORE = {"E": "XAPU", "CR": "XHML", "IR": "XHML", "AR": "XHML", "MAV": "XNALP",
            "MAC": "XLH", "MAT": "XNP", "MPR": "XNLH", "MUI": "XNPA", "MVC": "XHLN",
            "MVI": "XHLN", "MVA": "XHLN", "MSC": "XHLN", "MSI": "XSHLN", "MSA": "XSHLN",
            "S": "XNP", "AU": "XNY", "R": "XAUI", "V": "XDC", "RE": "XLMH"}  # fmt: skip
_V4_URGENCY = {"X", "Clear", "Green", "Amber", "Red"}
_METRICS = {"3.0": (_V3_BASE, _V3_MORE), "3.1": (_V3_BASE, _V3_MORE), "4.0": (_V4_BASE, _V4_MORE)}
_CVE = re.compile(CVE_PATTERN)


def cve_id(value: str) -> str:
    if not _CVE.match(value):
        raise ValueError("does not match the pattern of a CVE id: CVE-YYYY-NNNN (4 or more digits)")
    return value


def _allowed(version: str, metric: str, value: str) -> bool:
    base, more = _METRICS[version]
    if version == "4.0" and metric == "U":
        return value in _V4_URGENCY
    values = base.get(metric) or more.get(metric)
    return values is not None and len(value) == 1 and value in values


def vector(value: str) -> str:
    """A complete vector: its version's every base metric once, each metric known and
    given a value that metric allows."""
    prefix, _, rest = value.partition("/")
    version = prefix.removeprefix("CVSS:")
    if not prefix.startswith("CVSS:") or version not in _METRICS or not rest:
        raise ValueError("not a CVSS vector (CVSS:3.0, CVSS:3.1 or CVSS:4.0 followed by metrics)")
    seen: set[str] = set()
    for part in rest.split("/"):
        metric, sep, metric_value = part.partition(":")
        if not sep or metric in seen or not _allowed(version, metric, metric_value):
            raise ValueError(f"metric '{part}' is unknown, repeated or has a value not allowed")
        seen.add(metric)
    missing = [m for m in _METRICS[version][0] if m not in seen]
    if missing:
        raise ValueError(f"base metrics missing: {', '.join(missing)}")
    return value


def severity(score: Decimal) -> str:
    """The qualitative rating of a score (the CVSS specification's scale)."""
    if score == 0:
        return "none"
    if score < 4:
        return "low"
    if score < 7:
        return "medium"
    if score < 9:
        return "high"
    return "critical"


def vector_score(value: str) -> Decimal:
    """The score a (valid) vector gives: CVSS 3.x its base score (temporal and
    environmental metrics aside, as "base score" says), CVSS 4.0 the score of all its
    metrics (CVSS-B, -BT, -BE or -BTE: version 4 has one score per vector)."""
    parsed = CVSS4(value) if value.startswith("CVSS:4.0/") else CVSS3(value)
    return Decimal(str(parsed.base_score)).quantize(Decimal("0.1"))
