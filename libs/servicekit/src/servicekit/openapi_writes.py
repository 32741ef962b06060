"""What a service's writes enforce, said in its OpenAPI document: ``If-Match`` as a
required header of every PUT/PATCH (412 stale, 428 missing), the ``Location`` header of
every 201 and its ``ETag`` where the created resource can be updated, and OpenAPI links from a create to the read, update and
delete of what it made, and from a read to the update (its ``ETag`` as ``If-Match``).

Generated clients then send what the services require, and schemathesis' stateful phase
follows the links (create -> read -> update)."""

from __future__ import annotations

import re
from typing import Any

from .errors import PROBLEM_JSON

IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": True,
    "description": "The ETag of the current revision, from a read or the write that made "
    "it; 412 when stale, 428 when missing",
    "schema": {"type": "string", "minLength": 1},
}
CREATED_HEADERS = {
    "Location": {
        "description": "Path of the created resource",
        "required": True,
        "schema": {"type": "string", "format": "uri-reference"},
    },
    "ETag": {
        "description": "ETag of the created revision (the If-Match of the next update)",
        "required": True,
        "schema": {"type": "string"},
    },
}
PRECONDITIONS = {
    "412": "If-Match does not match the current ETag",
    "428": "If-Match is required",
}
_PARAMETER = re.compile(r"\{([^}/]+)\}$")


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def declare_writes(paths: dict[str, Any]) -> None:
    """If-Match on PUT/PATCH, the 201 headers (ETag where the resource can be updated)
    and the links, in place."""
    for item in paths.values():
        for method in ("put", "patch"):
            operation = item.get(method)
            if operation is None:
                continue
            parameters = [
                p
                for p in operation.get("parameters", [])
                if p.get("name", "").lower() != "if-match"
            ]
            operation["parameters"] = [*parameters, dict(IF_MATCH)]
            responses = operation.setdefault("responses", {})
            for code, description in PRECONDITIONS.items():
                responses.setdefault(code, _problem(description))
    for path, item in paths.items():
        for operation in _operations(item):
            created = operation.get("responses", {}).get("201")
            if created is not None:
                headers = created.setdefault("headers", {})
                for name, header in CREATED_HEADERS.items():
                    if name == "ETag" and not _updatable(paths, path):
                        continue  # nothing to send it back to (e.g. a one-time token)
                    headers.setdefault(name, dict(header))
    _links(paths)


def _updatable(paths: dict[str, Any], collection: str) -> bool:
    """Whether what a POST to ``collection`` creates has a PUT or PATCH."""
    prefix = collection.rstrip("/") + "/{"
    return any(
        p.startswith(prefix) and "/" not in p[len(prefix) :] and ("put" in i or "patch" in i)
        for p, i in paths.items()
    )


def _operations(item: dict[str, Any]) -> list[dict[str, Any]]:
    return [item[m] for m in ("get", "post", "put", "patch", "delete") if m in item]


def _links(paths: dict[str, Any]) -> None:
    """``/things`` POST (201) -> ``/things/{thingId}`` GET, PUT, PATCH, DELETE with the
    created ``id``; ``/things/{thingId}`` GET (200) -> its PUT and PATCH."""
    for path, item in paths.items():
        match = _PARAMETER.search(path)
        if match is None:
            continue
        name = match.group(1)
        collection = paths.get(path[: match.start()].rstrip("/"))
        created = (collection or {}).get("post", {}).get("responses", {}).get("201")
        targets = {m: item[m]["operationId"] for m in ("get", "put", "patch", "delete")
                   if m in item and "operationId" in item[m]}  # fmt: skip
        if created is not None:
            links = created.setdefault("links", {})
            for method, operation_id in targets.items():
                parameters: dict[str, str] = {name: "$response.body#/id"}
                if method in ("put", "patch"):
                    parameters["header.If-Match"] = "$response.header.ETag"
                links.setdefault(operation_id[:1].upper() + operation_id[1:], {
                    "operationId": operation_id, "parameters": parameters,
                })  # fmt: skip
        read = item.get("get", {}).get("responses", {}).get("200")
        if read is not None:
            links = read.setdefault("links", {})
            for method in ("put", "patch"):
                if method in targets:
                    links.setdefault(targets[method][:1].upper() + targets[method][1:], {
                        "operationId": targets[method],
                        "parameters": {name: f"$request.path.{name}",
                                       "header.If-Match": "$response.header.ETag"},
                    })  # fmt: skip
