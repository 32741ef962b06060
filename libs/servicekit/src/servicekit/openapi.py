"""OpenAPI documents that pass the Dutch API Design Rules linter, and offline docs.

The service's routes live under ``/v1``; its document lists them relative to servers
that end in ``/v1`` (ADR: major version in the URI). Every operation documents its
problem+json errors and every 2xx/3xx response the ``API-Version`` header. Swagger UI
and ReDoc load their assets from this package (no CDN).
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from .errors import PROBLEM_JSON
from .openapi_writes import declare_writes

ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
STATIC = Path(__file__).parent / "static"
# This package's own files for the docs pages: the pages' start scripts (the CSP allows no
# inline script) and what makes Swagger UI and ReDoc meet WCAG 2.1 AA (colours, names,
# keyboard access).
OWN_ASSETS: dict[str, tuple[Path, str]] = {
    "swagger-init.js": (STATIC / "swagger-init.js", "text/javascript"),
    "redoc-init.js": (STATIC / "redoc-init.js", "text/javascript"),
    "docs-a11y.css": (STATIC / "docs-a11y.css", "text/css"),
    "docs-a11y.js": (STATIC / "docs-a11y.js", "text/javascript"),
}
# Everything the docs pages load, for a server that serves them itself (the gateway).
DOCS_ASSETS: dict[str, tuple[Path, str]] = {
    "swagger-ui-bundle.js": (ASSETS_DIR / "swagger-ui-bundle.js", "text/javascript"),
    "swagger-ui.css": (ASSETS_DIR / "swagger-ui.css", "text/css"),
    "redoc.standalone.js": (ASSETS_DIR / "redoc.standalone.js", "text/javascript"),
    "favicon.png": (ASSETS_DIR / "favicon.png", "image/png"),
    **OWN_ASSETS,
}
# The docs pages' own policy. ReDoc injects <style> elements and starts a web worker from
# a blob: URL; Swagger UI uses data: images. Scripts only from this origin, nothing inline.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; child-src blob:; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
CONTACT = {
    "name": "Samen platform team",
    "email": "samen@example.nl",
    "url": "https://samen.example.nl",
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri", "description": "Problem type"},
        "title": {"type": "string", "description": "Short summary of the problem type"},
        "status": {"type": "integer", "format": "int32", "minimum": 100, "maximum": 599},
        "detail": {"type": "string", "description": "What went wrong in this occurrence"},
        "instance": {"type": "string", "description": "The request path"},
        "invalidParams": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "reason"],
                "properties": {"name": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}

ERROR_DESCRIPTIONS = {
    "400": "Invalid input",
    "401": "Missing or invalid bearer token",
    "403": "The token lacks the scope or the organisation for this operation",
    "404": "Not found",
    "406": "The Accept header cannot be met",
    "409": "Conflict with the resource's current state",
    "412": "If-Match does not match the current ETag",
    "413": "Request body too large",
    "415": "Unsupported Content-Type",
    "422": "Idempotency-Key reused for another request",
    "428": "If-Match is required",
    "429": "Rate limit exceeded",
    "500": "Internal error",
    "503": "A dependency is unavailable",
}


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "A key of your choice (a UUID, say) that makes a retry safe: the same key "
    "with the same request within 24 hours gives the first answer again "
    "(`Idempotent-Replayed: true`) and changes nothing; with another request, 422; while "
    "the first is still running, 409.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
}


def _problem_response(code: str) -> dict[str, Any]:
    return {
        "description": ERROR_DESCRIPTIONS.get(code, "Error"),
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def adr_document(
    app: FastAPI,
    *,
    service: str,
    version: str,
    description: str,
    public_url: str,
) -> dict[str, Any]:
    """Generate the service's OpenAPI document in ADR form (paths relative to /v1)."""
    raw = get_openapi(
        title=app.title,
        version=version,
        description=description,
        routes=app.routes,
        contact=CONTACT,
        license_info={"name": "EUPL-1.2", "url": "https://eupl.eu/1.2/en/"},
        tags=app.openapi_tags,
    )
    doc = copy.deepcopy(raw)
    doc["servers"] = [
        {"url": f"{public_url.rstrip('/')}/api/{service}/v1", "description": "Through the gateway"},
        {"url": "/v1", "description": "This service directly"},
    ]
    paths: dict[str, Any] = {}
    for path, item in doc.get("paths", {}).items():
        if not path.startswith("/v1/") and path != "/v1":
            continue
        paths[path[3:] or "/"] = item
    doc["paths"] = paths
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = PROBLEM_SCHEMA
    components.setdefault("headers", {})["API-Version"] = {
        "description": "Full semantic version of the API",
        "schema": {"type": "string", "example": version},
    }
    _collapse_nullable(doc)
    _pascal_case_schema_names(doc)
    for item in paths.values():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete", "head", "options"):
                continue
            responses = operation.setdefault("responses", {})
            # FastAPI's own 422 (validation): the services answer 400 instead. A 422 an
            # operation declares itself (a reused Idempotency-Key) stays.
            if responses.get("422", {}).get("description") == "Validation Error":
                del responses["422"]
            needed = ["400", "406", "500"]
            if operation.get("security"):
                needed += ["401", "403", "429"]
            if "{" in _path_of(paths, item):
                needed.append("404")
            if "requestBody" in operation:
                # A body of another media type, or larger than the service reads.
                needed += ["413", "415"]
            for code in needed:
                responses.setdefault(code, _problem_response(code))
            if "422" in responses:  # declared only where a create honours Idempotency-Key
                parameters = operation.setdefault("parameters", [])
                if IDEMPOTENCY_KEY not in parameters:
                    parameters.append(IDEMPOTENCY_KEY)
            for code, response in responses.items():
                if code.startswith(("2", "3")):
                    headers = response.setdefault("headers", {})
                    headers.setdefault("API-Version", {"$ref": "#/components/headers/API-Version"})
                elif code.startswith(("4", "5")):
                    response["content"] = {
                        PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}
                    }
            operation.setdefault("tags", [service])
    declare_writes(paths)
    return doc


def _collapse_nullable(node: Any) -> None:
    """``anyOf: [{type: string, format: date}, {type: null}]`` → ``type: [string, null]``.

    Pydantic writes optional fields as anyOf; the ADR linter looks for ``format`` on the
    property itself, and the single-schema form is plainer OpenAPI 3.1 anyway."""
    if isinstance(node, dict):
        options = node.get("anyOf")
        if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
            other = next(o for o in options if o != {"type": "null"})
            if (
                isinstance(other, dict)
                and isinstance(other.get("type"), str)
                and "$ref" not in other
            ):
                del node["anyOf"]
                merged = dict(other)
                merged["type"] = [other["type"], "null"]
                for key, value in merged.items():
                    node.setdefault(key, value)
        # A nullable enumeration lists null among its values, or a validator refuses the
        # null it allows by type.
        kinds, values = node.get("type"), node.get("enum")
        nullable = isinstance(kinds, list) and "null" in kinds
        if nullable and isinstance(values, list) and None not in values:
            values.append(None)
        for value in node.values():
            _collapse_nullable(value)
    elif isinstance(node, list):
        for value in node:
            _collapse_nullable(value)


def _pascal_case_schema_names(doc: dict[str, Any]) -> None:
    """Generic models get names like ``Page_TenderOut_``; ADR wants UpperCamelCase."""
    schemas = doc.get("components", {}).get("schemas", {})
    renames = {}
    for name in list(schemas):
        if "_" in name or not name[:1].isupper():
            new = "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)
            if new and new not in schemas:
                renames[name] = new
    if not renames:
        return
    for old, new in renames.items():
        schemas[new] = schemas.pop(old)
        schemas[new].setdefault("title", new)

    def fix(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                target = ref.rsplit("/", 1)[1]
                if target in renames:
                    node["$ref"] = f"#/components/schemas/{renames[target]}"
            for value in node.values():
                fix(value)
        elif isinstance(node, list):
            for value in node:
                fix(value)

    fix(doc)


def _path_of(paths: dict[str, Any], item: Any) -> str:
    for path, candidate in paths.items():
        if candidate is item:
            return path
    return ""


def install_docs(app: FastAPI, title: str) -> None:
    """Serve /v1/openapi.json, /v1/docs (Swagger UI) and /v1/redoc with local assets."""

    for name, (path, media_type) in OWN_ASSETS.items():
        app.add_api_route(
            f"/v1/docs-assets/{name}",
            own_asset(path, media_type),
            methods=["GET"],
            include_in_schema=False,
        )
    app.mount("/v1/docs-assets", StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    @app.get("/v1/openapi.json", include_in_schema=False)
    async def openapi_json() -> JSONResponse:
        return JSONResponse(app.openapi(), headers={"Access-Control-Allow-Origin": "*"})

    # Relative addresses: the pages work wherever /v1 is mounted, e.g. behind the
    # gateway at /api/<service>/v1/docs.
    @app.get("/v1/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(
            swagger_html(title, "openapi.json", "docs-assets"),
            headers={"Content-Security-Policy": DOCS_CSP},
        )

    @app.get("/v1/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return HTMLResponse(
            redoc_html(title, "openapi.json", "docs-assets"),
            headers={"Content-Security-Policy": DOCS_CSP},
        )


def own_asset(path: Path, media_type: str) -> Callable[[], Awaitable[FileResponse]]:
    async def asset() -> FileResponse:
        return FileResponse(path, media_type=media_type)

    return asset


def swagger_html(
    title: str, openapi_url: str, assets: str, start: str = "swagger-init.js", attributes: str = ""
) -> str:
    """Swagger UI, started by the script ``start`` (with ``attributes`` for it to read)."""
    return docs_page(
        f"{title} - Swagger UI",
        assets,
        head=f'<link rel="stylesheet" href="{assets}/swagger-ui.css">\n',
        root='<main id="swagger-ui"></main>',
        bundle="swagger-ui-bundle.js",
        start=f'<script src="{assets}/{start}" data-openapi-url="{openapi_url}"{attributes}></script>',
    )


def redoc_html(title: str, openapi_url: str, assets: str) -> str:
    return docs_page(
        f"{title} - ReDoc",
        assets,
        head="",
        root='<main id="redoc"></main>',
        bundle="redoc.standalone.js",
        start=f'<script src="{assets}/redoc-init.js" data-openapi-url="{openapi_url}"></script>',
    )


def docs_page(title: str, assets: str, head: str, root: str, bundle: str, start: str) -> str:
    """A docs page: the UI's stylesheet (``head``), element, bundle and start script, with
    this package's accessibility fixes after the UI's own."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
{head}<link rel="stylesheet" href="{assets}/docs-a11y.css">
<link rel="icon" href="{assets}/favicon.png"></head>
<body>{root}
<script src="{assets}/{bundle}"></script>
{start}
<script src="{assets}/docs-a11y.js"></script>
</body></html>"""
