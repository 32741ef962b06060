"""The catalogue's search on the home page: a query from a link or bookmark that is too
long is cut and said next to the field, never an error page."""

from __future__ import annotations

from conftest import Portal


async def test_a_search_longer_than_200_characters_is_cut_and_said(portal: Portal) -> None:
    """From a link or bookmark: the page with a message next to the search field and the
    query kept (its first 200 characters, which are searched for), not a 404 page."""
    empty = {"items": [], "total": 0, "page": 1, "pageSize": 20,
             "facets": {"type": [], "kind": [], "theme": []}}  # fmt: skip
    portal.fake.json("GET", "/api/registry/v1/search", empty)
    typed = "glasvezel " * 20 + "x"  # 201 characters
    page = await portal.client.get("/", params={"q": typed})
    assert page.status_code == 200, page.text
    assert 'id="q-error">Een zoekopdracht heeft ten hoogste 200 tekens.' in page.text
    assert 'aria-describedby="q-error"' in page.text
    assert f'value="{typed[:200].strip()}"' in page.text
    ((_, _, _, _),) = portal.fake.api_calls("/api/registry/v1/search")
    normal = await portal.client.get("/", params={"q": "glasvezel"})
    assert normal.status_code == 200
    assert "q-error" not in normal.text
