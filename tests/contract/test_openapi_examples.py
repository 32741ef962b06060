"""Every example in the services' OpenAPI documents is valid for the schema it stands in:
Swagger UI's "Try it out" fills request bodies from them, so a wrong example is a request
that fails for the developer who tries the API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from contractkit import identity_app, procurement_app, registry_app
from jsonschema import Draft202012Validator
from referencing import Registry, Resource


def schemas_in(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(place, object) for every object in the document, depth first."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from schemas_in(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from schemas_in(value, f"{where}/{i}")


def examples(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(place, schema, example) for every schema in the document that gives examples."""
    for place, schema in schemas_in(node, where):
        if isinstance(schema.get("examples"), list):
            for example in schema["examples"]:
                yield place, schema, example


@pytest.mark.parametrize("make_app", [registry_app, procurement_app, identity_app])
def test_every_example_is_valid_for_its_schema(make_app: Any) -> None:
    doc = make_app().openapi()
    registry = Registry().with_resource("", Resource.opaque(doc))
    found = list(examples(doc.get("components", {}).get("schemas", {}), "#/components/schemas"))
    assert found, "the document gives examples"
    for where, schema, example in found:
        checked = {k: v for k, v in schema.items() if k != "examples"}
        errors = list(Draft202012Validator(checked, registry=registry).iter_errors(example))
        assert not errors, f"{where}: {example!r}: {errors[0].message}"


@pytest.mark.parametrize("make_app", [registry_app, procurement_app, identity_app])
def test_answers_the_services_give_validate_against_their_schemas(make_app: Any) -> None:
    """What generated clients check: a nullable enumeration accepts null (a usage whose
    contract details are hidden has ``contractValueBand: null``), and amounts carry no
    ``multipleOf`` that a float such as 555555.56 fails in strict validators."""
    doc = make_app().openapi()
    nullable_enums = 0
    for where, schema in schemas_in(doc):
        kinds = schema.get("type")
        if isinstance(kinds, list) and "null" in kinds and "enum" in schema:
            nullable_enums += 1
            assert None in schema["enum"], where
            assert not list(Draft202012Validator(schema).iter_errors(None)), where
        assert "multipleOf" not in schema, where
    if make_app is registry_app:
        assert nullable_enums, "the registry has nullable enumerations (contractValueBand)"


def test_a_declared_422_stays_and_fastapi_s_own_is_gone() -> None:
    """The services answer invalid input with 400; a 422 is only a reused Idempotency-Key,
    where the operation declares it."""
    doc = identity_app().openapi()
    create = doc["paths"]["/clients"]["post"]["responses"]
    assert create["422"]["content"]["application/problem+json"]
    for item in doc["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "422" in operation.get("responses", {}):
                assert operation["responses"]["422"]["description"] != "Validation Error"


@pytest.mark.parametrize("make_app", [registry_app, procurement_app, identity_app])
def test_creates_that_honour_an_idempotency_key_declare_it(make_app: Any) -> None:
    doc = make_app().openapi()
    declared = [
        (path, method)
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", []))
    ]
    assert declared
    assert all(method == "post" for _, method in declared)
    if make_app is procurement_app:
        assert ("/tenders/{tenderId}/enrollments", "post") in declared


@pytest.mark.parametrize("make_app", [registry_app, procurement_app, identity_app])
async def test_every_operation_with_a_body_documents_413_and_415(make_app: Any) -> None:
    """A body of another media type is a 415 problem and a body over the limit a 413,
    before anything else: the document says so where an operation takes a body."""
    import httpx

    app = make_app()
    doc = app.openapi()
    with_body = [
        (path, method, operation["responses"])
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "requestBody" in operation
    ]
    assert with_body
    for path, method, responses in with_body:
        assert {"413", "415"} <= set(responses), (method, path)
        assert "application/problem+json" in responses["415"]["content"]
    path, method, _ = with_body[0]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        answer = await client.request(
            method, "/v1" + path, content=b"4\x18", headers={"Content-Type": "#{>"}
        )
    assert answer.status_code == 415, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
