"""Transparency rules without HTTP: every grant and userinfo answer is logged as a
disclosure of the person (which client, which attributes, at which level); a person's
pairwise subject lists their own disclosures — from every client, newest first, paged —
and never another person's; a subject read in a sector it does not belong to lists
nothing (the disclosure service on a real database, fed by the token services)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from idkit import LOA_SUBSTANTIAL, RP, code_form, decode_unverified, issue_code, person

from identity.disclosures.service import disclosures_of
from servicekit.auth import Principal
from servicekit.db import Database
from servicekit.pagination import PageParams

PROFILE = ["acr", "family_name", "given_name", "name", "sub"]


@pytest.fixture
def login(app: Any) -> Any:
    """A person's code grant at a relying party: (the person's sub there, its sector, the
    access token)."""
    provider = app.state.identity

    async def _login(rp: RP, name: str) -> tuple[str, str, str]:
        code, verifier = await issue_code(provider.authorization, rp, person(name))
        client = await provider.clients.get(rp.client_id)
        issued = await provider.tokens.authorization_code(client, code_form(rp, code, verifier))
        access = issued["access_token"]
        return str(decode_unverified(access)["sub"]), client.sector, access

    return _login


async def _listed(database: Database, sub: str, sector: str, page: int = 1,
                  size: int = 10) -> tuple[list[tuple[str, str, list[str]]], int]:  # fmt: skip
    """(client, channel, attributes) of each listed disclosure, and the total."""
    async with database.sessionmaker() as session:
        rows, total = await disclosures_of(
            session, Principal(subject=sub), sector, PageParams(page=page, page_size=size)
        )
    assert all(row.acr == LOA_SUBSTANTIAL for row in rows)
    return [(row.client_id, row.channel, row.attributes) for row in rows], total


def _name() -> str:
    """A person of this test only (other tests log persons in at other clients)."""
    return f"p{uuid.uuid4().hex[:8]}"


async def test_a_person_lists_only_their_own_disclosures(
    app: Any, register: Any, login: Any, database: Database
) -> None:
    rp = await register()
    anna, bert = _name(), _name()
    anna_sub, sector, access = await login(rp, anna)
    bert_sub, _, _ = await login(rp, bert)
    assert anna_sub != bert_sub
    assert await _listed(database, anna_sub, sector) == ([(rp.client_id, "token", PROFILE)], 1)
    await app.state.identity.access.userinfo(access)  # userinfo discloses too, without acr
    assert await _listed(database, anna_sub, sector) == ([
        (rp.client_id, "userinfo", ["family_name", "given_name", "name", "sub"]),
        (rp.client_id, "token", PROFILE)], 2)  # fmt: skip
    assert await _listed(database, bert_sub, sector) == ([(rp.client_id, "token", PROFILE)], 1)
    # Unknown subjects and subjects of another sector list nothing.
    assert await _listed(database, "no-such-sub", sector) == ([], 0)
    other = await register()
    assert await _listed(database, anna_sub, other.client_id) == ([], 0)


async def test_a_person_sees_every_client_newest_first(
    app: Any, register: Any, login: Any, database: Database
) -> None:
    shared = f"sector-{uuid.uuid4().hex[:8]}"
    first, second = await register(sector=shared), await register(sector=shared)
    anna = _name()
    sub, sector, _ = await login(first, anna)
    assert (await login(second, anna))[:2] == (sub, sector)  # one sector: one pseudonym
    await login(second, _name())  # someone else at the same client
    assert (await login(second, anna))[0] == sub
    listed, total = await _listed(database, sub, sector)
    assert total == 3
    assert [client for client, _, _ in listed] == [second.client_id, second.client_id,
                                                   first.client_id]  # fmt: skip
    page, total = await _listed(database, sub, sector, page=2, size=2)
    assert (page, total) == ([(first.client_id, "token", PROFILE)], 3)
