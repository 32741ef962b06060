"""Search that forgives, the same on SQLite and PostgreSQL: Dutch word forms, typos
(only when the words as typed find few), OR, negation and phrases as the endpoint
documents them; exact matches rank before corrected ones."""

from __future__ import annotations

from typing import Any

import httpx

from registry.search import terms

from .test_search_api import _assert_documented

Maker = Any


async def _names(client: httpx.AsyncClient, q: str, **params: Any) -> list[str]:
    r = await client.get("/v1/search", params={"q": q, **params})
    assert r.status_code == 200, r.text
    body = r.json()
    _assert_documented(body)
    assert body["total"] >= len(body["items"])
    return [hit["name"] for hit in body["items"]]


async def _catalogue(make_facility: Maker) -> None:
    await make_facility(
        name="GGI-Netwerk",
        description="Het beveiligde netwerk van de gemeenten: één aansluiting voor alle "
        "landelijke voorzieningen.",
        theme="connectivity",
    )
    await make_facility(
        name="Gezamenlijke aanbesteding telefonie",
        description="Vaste en mobiele telefonie voor gemeenten, samen ingekocht.",
        theme="telephony",
        kind="agreement",
    )
    await make_facility(
        name="Glasvezel buitengebied",
        description="Snel internet voor verspreide woningen.",
        theme="connectivity",
    )


async def test_dutch_word_forms(client: httpx.AsyncClient, make_facility: Maker) -> None:
    await _catalogue(make_facility)
    assert await _names(client, "netwerken") == ["GGI-Netwerk"]
    assert await _names(client, "netwerk") == ["GGI-Netwerk"]
    # "gemeente" and "gemeenten" are one word.
    assert set(await _names(client, "gemeente")) == {
        "GGI-Netwerk",
        "Gezamenlijke aanbesteding telefonie",
    }
    assert await _names(client, "aanbestedingen") == ["Gezamenlijke aanbesteding telefonie"]


async def test_typos_are_forgiven(client: httpx.AsyncClient, make_facility: Maker) -> None:
    await _catalogue(make_facility)
    assert await _names(client, "telefnie") == ["Gezamenlijke aanbesteding telefonie"]
    assert await _names(client, "glasvzel") == ["Glasvezel buitengebied"]
    # A typo next to a correct word: both must still hold.
    assert await _names(client, "telefnie mobiele") == ["Gezamenlijke aanbesteding telefonie"]
    assert await _names(client, "telefnie woningen") == []
    # Nothing near: nothing found, no error.
    assert await _names(client, "xqzwv") == []


async def test_or_negation_and_phrases(client: httpx.AsyncClient, make_facility: Maker) -> None:
    await _catalogue(make_facility)
    assert set(await _names(client, "glasvezel OR telefonie")) == {
        "Glasvezel buitengebied",
        "Gezamenlijke aanbesteding telefonie",
    }
    assert set(await _names(client, "glasvezel or netwerk")) == {
        "Glasvezel buitengebied",
        "GGI-Netwerk",
    }
    # OR binds looser than the implied AND: (gemeenten and mobiele) or glasvezel.
    assert set(await _names(client, "gemeenten mobiele OR glasvezel")) == {
        "Gezamenlijke aanbesteding telefonie",
        "Glasvezel buitengebied",
    }
    assert await _names(client, "gemeenten -telefonie") == ["GGI-Netwerk"]
    assert await _names(client, "connectivity -glasvezel -netwerk") == []
    assert await _names(client, '"mobiele telefonie"') == ["Gezamenlijke aanbesteding telefonie"]
    assert await _names(client, '"telefonie mobiele"') == []
    # A word with a hyphen inside is not a negation.
    assert await _names(client, "GGI-Netwerk") == ["GGI-Netwerk"]


async def test_exact_matches_rank_before_corrected_ones(
    client: httpx.AsyncClient, make_facility: Maker
) -> None:
    await make_facility(name="Telefonia Europa", description="Roaming")
    await make_facility(name="Telefonie collectief", description="Vaste lijnen")
    # One match as typed: corrections are tried, and rank after it.
    assert await _names(client, "telefonie") == ["Telefonie collectief", "Telefonia Europa"]
    assert await _names(client, "telefonia") == ["Telefonia Europa", "Telefonie collectief"]
    # Enough matches as typed: no corrections at all.
    await make_facility(name="Telefonie mobiel", description="Abonnementen")
    await make_facility(name="Telefonie vast", description="Centrale")
    names = await _names(client, "telefonie")
    assert "Telefonia Europa" not in names
    assert len(names) == 3


async def test_filters_and_facets_hold_for_corrected_searches(
    client: httpx.AsyncClient, make_facility: Maker
) -> None:
    await _catalogue(make_facility)
    r = await client.get("/v1/search", params={"q": "telefnie", "kind": "infrastructure"})
    assert r.json()["items"] == []
    assert r.json()["facets"]["kind"] == [{"value": "agreement", "count": 1}]
    r = await client.get("/v1/search", params={"q": "telefnie", "kind": "agreement"})
    assert r.json()["total"] == 1


def test_the_words_are_parsed_like_websearch() -> None:
    clauses = terms.parse('GGI-Netwerk "vaste  telefonie" -mobiel OR glasvezel or')
    assert clauses == (
        terms.Clause(
            words=("ggi", "netwerk"), phrases=(("vaste", "telefonie"),), excluded=("mobiel",)
        ),
        terms.Clause(words=("glasvezel",)),
    )
    assert terms.parse("") == ()
    assert terms.parse("OR or -") == ()
    assert (
        len([w for c in terms.parse(" ".join(["woord"] * 40)) for w in c.words]) == terms.MAX_TERMS
    )
    expression = terms.fts5_expression(terms.parse('netwerken "a b" -x OR -y'))
    assert expression == '{name body} : ((("netwerk"* AND "a b") NOT "x"*))'


def test_edit_distance_gives_up_beyond_the_limit() -> None:
    assert terms.within_edits("telefnie", "telefonie", 2) == 1
    assert terms.within_edits("glasvzel", "glasvezel", 2) == 1
    assert terms.within_edits("netwerk", "telefonie", 2) is None
    assert terms.within_edits("abc", "abcdef", 2) is None
