"""What a token says about a person: pairwise subjects, roles from machtigingen, granted
scopes, and the person's claims minimised by scope, registration and `claims` request."""

from __future__ import annotations

from typing import Any

from ..broker.means import MACHTIGING_ROLES, OIDC_SCOPES, READ_SCOPES, ROLE_SCOPES, UpstreamIdentity
from ..clients.models import Client
from ..common import keyed_hash
from ..config import Settings

PROFILE_CLAIMS = ("given_name", "family_name", "name", "birthdate")
# The person's attributes a `claims` request selects among (see person_claims); the
# context claims (represents, org_*, roles) always come along because they qualify `sub`.
MINIMISABLE_CLAIMS = frozenset({*PROFILE_CLAIMS, "email", "bsn"})
ID_TYPES = {"OIN": "urn:nl-eid-gdi:1.0:id:OIN", "KvK": "urn:nl-eid-gdi:1.0:id:KvKnr"}
# What kind of identifier a `sub` is (NL GOV profile): ours are pairwise pseudonyms; a
# represented organisation is named by its OIN or KvK number.
PSEUDONYM = "urn:nl-eid-gdi:1.0:id:Pseudonym"
SUB_ID_TYPES = [PSEUDONYM, *ID_TYPES.values()]


def userinfo_allowance(claims_request: dict[str, Any] | None) -> list[str] | None:
    """The claims userinfo may release under the `claims` request's userinfo member (always
    with `sub`), or None when the request has no userinfo member (scope decides alone).

    Carried in the access token as `userinfo_claims` (names only, never values)."""
    if not claims_request or not isinstance(claims_request.get("userinfo"), dict):
        return None
    return sorted({"sub", *(MINIMISABLE_CLAIMS & set(claims_request["userinfo"]))})


class Claims:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def pairwise_sub(self, sector: str, person_key: str) -> str:
        return keyed_hash(self.settings.secret, "sub", sector, person_key)

    def roles_for(self, identity: UpstreamIdentity) -> list[str]:
        org = identity.attributes.get("org")
        if not org:
            return []
        roles = set()
        for machtiging in identity.attributes.get("machtigingen", []):
            role = MACHTIGING_ROLES.get(machtiging)
            if role == "platform-admin" and org.get("id") not in self.settings.admin_org_ids:
                continue
            if role:
                roles.add(role)
        return sorted(roles)

    def granted_scopes(
        self, client: Client, requested: str, identity: UpstreamIdentity
    ) -> list[str]:
        eligible = set(OIDC_SCOPES) | READ_SCOPES
        for role in self.roles_for(identity):
            eligible |= ROLE_SCOPES.get(role, set())
        if not client.bsn_legal_basis:
            eligible.discard("bsn")
        return [s for s in requested.split() if s in eligible and s in client.allowed_scopes]

    def person_claims(
        self,
        client: Client,
        identity: UpstreamIdentity,
        scopes: list[str],
        claims_request: dict[str, Any] | None,
        target: str,
    ) -> dict[str, Any]:
        """The person's claims for this client (data minimisation by scope and `claims`)."""
        out = _scoped_attributes(client, identity.attributes, scopes)
        if claims_request and isinstance(claims_request.get(target), dict):
            wanted = set(claims_request[target])
            out = {k: v for k, v in out.items() if k in wanted}
        rep = identity.attributes.get("represents")
        if rep:
            out["represents"] = self._represented_person(client, identity, rep, "bsn" in out)
        org = identity.attributes.get("org")
        if org:
            out["org_id"] = org["id"]
            out["org_type"] = org["type"]
            out["org_name"] = org.get("name")
            out["roles"] = self.roles_for(identity)
            id_type = ID_TYPES.get(org.get("id_type", ""), org.get("id_type"))
            out["represents"] = {
                "org_id": org["id"],
                "id_type": id_type,
                "sub": org["id"],
                "sub_id_type": id_type,
                "name": org.get("name"),
                "services": list(identity.attributes.get("machtigingen", [])),
                "mandate_service": "eHerkenning",
                "level": identity.loa,
            }
        return out

    def _represented_person(
        self, client: Client, identity: UpstreamIdentity, rep: dict[str, Any], with_bsn: bool
    ) -> dict[str, Any]:
        represented: dict[str, Any] = {
            "sub": self.pairwise_sub(client.sector, f"bsn:{rep['bsn']}"),
            "sub_id_type": PSEUDONYM,
            "name": rep.get("name"),
            "service": rep.get("service"),
            "mandate_service": rep.get("mandate_service"),
            "level": identity.loa,
        }
        if with_bsn:
            represented["bsn"] = rep["bsn"]
        return represented


def _scoped_attributes(client: Client, a: dict[str, Any], scopes: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "profile" in scopes:
        for name in ("given_name", "family_name", "birthdate"):
            if name in a:
                out[name] = a[name]
        if "given_name" in a and "family_name" in a:
            out["name"] = f"{a['given_name']} {a['family_name']}"
    if "email" in scopes and "email" in a:
        out["email"] = a["email"]
    if "bsn" in scopes and client.bsn_legal_basis and "bsn" in a:
        out["bsn"] = a["bsn"]
    return out
