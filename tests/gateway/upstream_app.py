"""A small upstream service for the gateway tests, run as a real process.

It behaves like a Samen service where the gateway cares: serves ``/v1/...``, writes
``_links`` as absolute paths, answers 201 + Location, problem+json with ``instance``,
streams, and can be slow. ``python upstream_app.py --port N --name registry``.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import json

from aiohttp import web

NAME = "upstream"


def echo_payload(request: web.Request, body: bytes) -> dict[str, object]:
    return {
        "service": NAME,
        "method": request.method,
        "path": request.path,
        "rawPath": request.raw_path,
        "query": request.query_string,
        "headers": [[k, v] for k, v in request.headers.items()],
        "body": body.decode("utf-8", "replace"),
        "bodyLength": len(body),
        "chunked": request.headers.get("Transfer-Encoding", "") == "chunked",
        "peerPort": request.transport.get_extra_info("peername")[1] if request.transport else 0,
    }


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response(echo_payload(request, body), headers={"API-Version": "1.2.3"})


async def things(request: web.Request) -> web.Response:
    page = int(request.query.get("page", "1"))
    body = {
        "items": [{"id": f"t{page}", "_links": {"self": {"href": f"/v1/things/t{page}"}}}],
        "total": 3,
        "_links": {
            "self": {"href": f"/v1/things?page={page}"},
            "next": {"href": f"/v1/things?page={page + 1}"},
            "absolute": {"href": f"http://{request.host}/v1/things"},
            "elsewhere": {"href": "https://example.org/v1/things"},
        },
    }
    return web.json_response(body)


async def create_thing(request: web.Request) -> web.Response:
    data = await request.json()
    body = {"id": "t42", "name": data.get("name"), "_links": {"self": {"href": "/v1/things/t42"}}}
    return web.json_response(body, status=201, headers={"Location": "/v1/things/t42"})


async def redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/v1/things?page=1")


async def stream(request: web.Request) -> web.StreamResponse:
    chunks = int(request.query.get("chunks", "5"))
    delay = float(request.query.get("delay", "0.2"))
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    for i in range(chunks):
        await response.write(f"chunk-{i}\n".encode())
        await asyncio.sleep(delay)
    await response.write_eof()
    return response


async def big(request: web.Request) -> web.Response:
    size = int(request.query.get("size", str(2 * 1024 * 1024)))
    return web.Response(body=b"x" * size, content_type="application/octet-stream")


async def upload(request: web.Request) -> web.Response:
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.content.iter_any():
        digest.update(chunk)
        size += len(chunk)
    return web.json_response({"size": size, "sha256": digest.hexdigest()})


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(float(request.query.get("delay", "2")))
    return web.json_response({"slow": True})


async def status(request: web.Request) -> web.Response:
    code = int(request.match_info["code"])
    body = {"type": "about:blank", "title": "x", "status": code, "detail": "upstream says so"}
    return web.json_response(body, status=code, content_type="application/problem+json")


async def crash(request: web.Request) -> web.Response:
    page = "<html><pre>Traceback (most recent call last):\n  File /srv/app.py, db password=hunter2</pre></html>"
    return web.Response(text=page, status=500, content_type="text/html")


async def overloaded(request: web.Request) -> web.Response:
    """A 503 from something in front of the service (a plain page) that says when to retry."""
    page = "<html><body>Service overloaded (pool exhausted at db-3)</body></html>"
    return web.Response(
        text=page, status=503, content_type="text/html", headers={"Retry-After": "30"}
    )


async def cached(request: web.Request) -> web.Response:
    """An answer whose service says itself how it may be cached."""
    headers = {"Cache-Control": "private, max-age=60", "Vary": "Accept-Language"}
    return web.json_response({"cached": True}, headers=headers)


async def problem(request: web.Request) -> web.Response:
    body = {
        "type": "https://samen.example.nl/problems/not-found",
        "title": "Not Found",
        "status": 404,
        "detail": "No such thing",
        "instance": request.path,
    }
    return web.json_response(body, status=404, content_type="application/problem+json")


async def headers_out(request: web.Request) -> web.Response:
    response = web.json_response({"ok": True})
    response.headers["Connection"] = "X-Private"
    response.headers["X-Private"] = "upstream-only"
    response.headers["Keep-Alive"] = "timeout=5"
    response.headers["Server"] = "secret-upstream/1.0"
    response.headers["Link"] = '</v1/things?page=2>; rel="next"'
    response.headers.add("Set-Cookie", "a=1; Path=/")
    response.headers.add("Set-Cookie", "b=2; Path=/")
    return response


async def gzipped(request: web.Request) -> web.Response:
    payload = json.dumps({"_links": {"self": {"href": "/v1/gzip"}}}).encode()
    return web.Response(
        body=gzip.compress(payload),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )


async def openapi(request: web.Request) -> web.Response:
    doc = {
        "openapi": "3.0.3",
        "info": {"title": f"Samen {NAME}", "version": "1.0.0", "description": f"The {NAME}."},
        "servers": [{"url": f"http://127.0.0.1:8000/api/{NAME}/v1"}, {"url": "/v1"}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "oauth2": {
                    "type": "oauth2",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": "http://127.0.0.1:8001/auth/token",
                            "scopes": {f"{NAME}:read": "Read"},
                        }
                    },
                },
            }
        },
        "security": [{"bearer": []}],
        "paths": {
            "/things": {
                "get": {
                    "operationId": f"{NAME}ListThings",
                    "summary": f"List {NAME} things",
                    "tags": ["things"],
                    "responses": {"200": {"description": "OK"}},
                },
                "post": {
                    "operationId": f"{NAME}CreateThing",
                    "summary": f"Create a {NAME} thing",
                    "tags": ["things"],
                    "responses": {"201": {"description": "Created"}},
                },
            }
        },
    }
    return web.json_response(doc)


async def live(request: web.Request) -> web.Response:
    return web.json_response({"status": "pass"})


async def oidc_config(request: web.Request) -> web.Response:
    return web.json_response({"issuer": "http://127.0.0.1:8000", "token_endpoint": "/auth/token"})


def make_app() -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_get("/health/live", live)
    app.router.add_get("/v1/openapi.json", openapi)
    app.router.add_get("/v1/things", things)
    app.router.add_post("/v1/things", create_thing)
    app.router.add_get("/v1/redirect", redirect)
    app.router.add_get("/v1/stream", stream)
    app.router.add_get("/v1/big", big)
    app.router.add_post("/v1/upload", upload)
    app.router.add_get("/v1/slow", slow)
    app.router.add_get("/v1/status/{code}", status)
    app.router.add_get("/v1/problem", problem)
    app.router.add_get("/v1/crash", crash)
    app.router.add_get("/v1/overloaded", overloaded)
    app.router.add_get("/v1/cached", cached)
    app.router.add_get("/v1/headers-out", headers_out)
    app.router.add_get("/v1/gzip", gzipped)
    app.router.add_get("/.well-known/openid-configuration", oidc_config)
    app.router.add_route("*", "/v1/echo", echo)
    app.router.add_route("*", "/v1/echo/{tail:.*}", echo)
    app.router.add_route("*", "/v1/tenders/{tid}/enrollments", echo)
    app.router.add_route("*", "/v1/tenders/{tid}", echo)
    app.router.add_route("*", "/v1/tenders/{tid}/{tail:.*}", echo)
    app.router.add_route("*", "/v1/tenders", echo)
    # The registry's public catalogue and what sits next to it (test_public_catalogue.py).
    for collection in (
        "facilities",
        "offerings",
        "organisations",
        "initiatives",
        "integrations",
        "usages",
    ):
        app.router.add_route("*", f"/v1/{collection}", echo)
        app.router.add_route("*", f"/v1/{collection}/{{tail:.*}}", echo)
    app.router.add_route("*", "/v1/search", echo)
    app.router.add_route("*", "/auth/{tail:.*}", echo)
    if NAME == "portal":  # the portal answers every path the gateway does not reserve
        app.router.add_route("*", "/{tail:.*}", echo)
    return app


def main() -> None:
    global NAME
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", default="upstream")
    args = parser.parse_args()
    NAME = args.name
    web.run_app(make_app(), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
