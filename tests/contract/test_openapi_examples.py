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


def examples(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(place, schema, example) for every schema in the document that gives examples."""
    if isinstance(node, dict):
        if isinstance(node.get("examples"), list):
            for example in node["examples"]:
                yield where, node, example
        for key, value in node.items():
            yield from examples(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from examples(value, f"{where}/{i}")


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
