"""Upstream login means behind one connector interface, and their levels of assurance.

Each means speaks OIDC to the broker and has its own levels; the broker maps them onto
the eIDAS levels (``http://eidas.europa.eu/LoA/low|substantial|high``) and puts only the
achieved eIDAS level in its own tokens.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from servicekit.auth import LOA_HIGH, LOA_LOW, LOA_ORDER, LOA_SUBSTANTIAL

LOA_LABELS = {
    "nl": {LOA_LOW: "laag", LOA_SUBSTANTIAL: "substantieel", LOA_HIGH: "hoog"},
    "en": {LOA_LOW: "low", LOA_SUBSTANTIAL: "substantial", LOA_HIGH: "high"},
}


def loa_rank(loa: str | None) -> int:
    return LOA_ORDER.get(loa or "", 0)


def loa_max(*levels: str) -> str:
    return max(levels, key=loa_rank)


@dataclass(frozen=True)
class Level:
    """A means' own level: its URI in the upstream token, a label, its eIDAS level."""

    native: str
    label: str
    loa: str


@dataclass(frozen=True)
class MeansInfo:
    name: str
    title: str
    description: dict[str, str]
    levels: tuple[Level, ...]
    # Who uses it (explains the choice on the login page).
    audience: dict[str, str] = field(default_factory=dict)

    @property
    def max_loa(self) -> str:
        return loa_max(*(lv.loa for lv in self.levels))

    def level(self, native: str) -> Level | None:
        return next((lv for lv in self.levels if lv.native == native), None)

    def reaches(self, required: str) -> bool:
        return loa_rank(self.max_loa) >= loa_rank(required)


SAML = "urn:oasis:names:tc:SAML:2.0:ac:classes:"
MEANS: dict[str, MeansInfo] = {
    "digid": MeansInfo(
        name="digid",
        title="DigiD",
        description={
            "nl": "Voor inwoners met een burgerservicenummer (BSN).",
            "en": "For residents with a Dutch citizen service number (BSN).",
        },
        levels=(
            Level(SAML + "PasswordProtectedTransport", "DigiD Basis", LOA_LOW),
            Level(SAML + "MobileTwoFactorContract", "DigiD Midden", LOA_LOW),
            Level(SAML + "Smartcard", "DigiD Substantieel", LOA_SUBSTANTIAL),
            Level(SAML + "SmartcardPKI", "DigiD Hoog", LOA_HIGH),
        ),
    ),
    "eherkenning": MeansInfo(
        name="eherkenning",
        title="eHerkenning",
        description={
            "nl": "Voor medewerkers van gemeenten, samenwerkingsverbanden en bedrijven.",
            "en": "For staff of municipalities, cooperations and companies.",
        },
        levels=(
            Level("urn:etoegang:core:assurance-class:loa2", "EH2", LOA_LOW),
            Level("urn:etoegang:core:assurance-class:loa2plus", "EH2+", LOA_LOW),
            Level("urn:etoegang:core:assurance-class:loa3", "EH3", LOA_SUBSTANTIAL),
            Level("urn:etoegang:core:assurance-class:loa4", "EH4", LOA_HIGH),
        ),
    ),
    "eidas": MeansInfo(
        name="eidas",
        title="eIDAS",
        description={
            "nl": "Voor burgers van andere EU-landen met een erkend inlogmiddel uit hun land.",
            "en": "For citizens of other EU countries with a recognised login from their country.",
        },
        levels=(
            Level(LOA_LOW, "eIDAS low", LOA_LOW),
            Level(LOA_SUBSTANTIAL, "eIDAS substantial", LOA_SUBSTANTIAL),
            Level(LOA_HIGH, "eIDAS high", LOA_HIGH),
        ),
    ),
    "yivi": MeansInfo(
        name="yivi",
        title="Yivi",
        description={
            "nl": "Deel alleen de gegevens die nodig zijn, vanuit de Yivi-app.",
            "en": "Share only the attributes that are needed, from the Yivi app.",
        },
        levels=(
            Level("urn:yivi:level:self-asserted", "Yivi (zelf opgegeven)", LOA_LOW),
            Level("urn:yivi:level:brp", "Yivi (gegevens uit de BRP)", LOA_SUBSTANTIAL),
        ),
    ),
}

# Machtigingen (eHerkenning service names) → roles in our tokens, and the API scopes a
# role makes a user eligible for. Every authenticated user may read.
MACHTIGING_ROLES = {
    "deelname gezamenlijke aanbesteding": "procurement-enroller",
    "aanbesteding leiden": "procurement-manager",
    "beheer gebruik voorzieningen": "registry-editor",
    "beheer aanbod": "registry-editor",
    "platformbeheer": "platform-admin",
}
ROLE_SCOPES = {
    "procurement-enroller": {"procurement:enroll"},
    # Lead parties plan joint tenders from every municipality's contract ends.
    "procurement-manager": {"procurement:manage", "registry:contracts"},
    "registry-editor": {"registry:write", "registry:exposure"},
    "platform-admin": {
        "identity:admin",
        "registry:write",
        "registry:exposure",
        "registry:contracts",
        "procurement:manage",
    },
}
READ_SCOPES = {"registry:read", "procurement:read"}
OIDC_SCOPES = {"openid", "profile", "bsn", "email"}


@dataclass
class UpstreamIdentity:
    """What the broker learned from a means (kept encrypted in the login session)."""

    means: str
    native_level: str
    loa: str
    person_key: str  # stable per person and means; may contain a BSN: never log it
    attributes: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UpstreamIdentity:
        return cls(
            means=data["means"],
            native_level=data["native_level"],
            loa=data["loa"],
            person_key=data["person_key"],
            attributes=dict(data.get("attributes") or {}),
        )


@lru_cache
def test_identities() -> dict[str, list[dict[str, Any]]]:
    text = resources.files("identity.simulators").joinpath("identities.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return {k: v for k, v in data.items() if not k.startswith("_")}


def find_identity(means: str, identity_id: str) -> dict[str, Any] | None:
    return next((i for i in test_identities().get(means, []) if i["id"] == identity_id), None)


def identity_from_claims(means: str, claims: dict[str, Any]) -> UpstreamIdentity:
    """Map an upstream ID token's claims onto the broker's identity (per means)."""
    info = MEANS[means]
    native = str(claims.get("acr", ""))
    level = info.level(native)
    if level is None:
        raise ValueError("the upstream reported an unknown level")
    attrs: dict[str, Any] = {}
    for name in ("given_name", "family_name", "birthdate", "email", "over18"):
        if name in claims:
            attrs[name] = claims[name]
    if means == "digid":
        bsn = str(claims.get("bsn", ""))
        if not bsn:
            raise ValueError("DigiD did not return a BSN")
        attrs["bsn"] = bsn
        person_key = f"bsn:{bsn}"
        if claims.get("represents"):
            attrs["represents"] = claims["represents"]
    elif means == "eherkenning":
        org = claims.get("org") or {}
        if not org.get("id"):
            raise ValueError("eHerkenning did not return an organisation")
        attrs["org"] = org
        attrs["machtigingen"] = list(claims.get("machtigingen") or [])
        person_key = f"eh:{org['id']}:{claims['sub']}"
    elif means == "eidas":
        attrs["person_identifier"] = claims["sub"]
        person_key = f"eidas:{claims['sub']}"
    else:
        person_key = f"{means}:{claims['sub']}"
    return UpstreamIdentity(means, native, level.loa, person_key, attrs)
