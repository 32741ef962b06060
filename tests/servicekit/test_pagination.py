"""Page links: the request's own path (as ``request.url.path`` gives it) and its other query
parameters, then page and pageSize."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from servicekit.pagination import PageParams, make_page


def _request(path: str, query: bytes) -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "scheme": "http",
            "server": ("registry.test", 80),
            "path": path,
            "root_path": "",
            "query_string": query,
            "headers": [(b"host", b"registry.test")],
        }
    )


@pytest.mark.parametrize(
    "path",
    ["/v1/offerings", "/v1/zoek resultaten", "/v1/caf\u00e9", "/v1/a?b#c\\d", "/v1/%2F"],
)
def test_links_keep_the_path_as_starlette_reports_it(path: str) -> None:
    request = _request(path, b"q=zaak%20systeem&page=3&pageSize=10&facilityId=x")
    page = make_page(request, [], total=95, params=PageParams(page=3, page_size=10))
    expected = f"{request.url.path}?q=zaak+systeem&facilityId=x&page="
    assert page["_links"]["self"]["href"] == expected + "3&pageSize=10"
    assert page["_links"]["first"]["href"] == expected + "1&pageSize=10"
    assert page["_links"]["last"]["href"] == expected + "10&pageSize=10"
    assert page["_links"]["prev"]["href"] == expected + "2&pageSize=10"
    assert page["_links"]["next"]["href"] == expected + "4&pageSize=10"
    assert (page["total"], page["page"], page["pageSize"]) == (95, 3, 10)


def test_the_last_page_has_no_next_and_the_first_no_prev() -> None:
    only = make_page(
        _request("/v1/usages", b""), [], total=0, params=PageParams(page=1, page_size=20)
    )
    assert set(only["_links"]) == {"self", "first", "last"}
    assert only["_links"]["last"]["href"] == "/v1/usages?page=1&pageSize=20"
