"""A municipality's application landscape in the ArchiMate Model Exchange File Format
(The Open Group, AMEFF 3.x): an ApplicationComponent per offering it uses, the
municipality as a BusinessActor each component serves, and the offerings' integrations
as Flow relationships when there are any. Identifiers are stable (derived from the
registry's ids), so a second export updates the same elements in an architecture tool.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

NS = "http://www.opengroup.org/xsd/archimate/3.0/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
SCHEMA_LOCATION = f"{NS} http://www.opengroup.org/xsd/archimate/3.1/archimate3_Model.xsd"
PROPERTIES = ("facility", "supplier", "version", "status")


@dataclass
class Component:
    id: uuid.UUID
    name: str
    properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Flow:
    """An integration: data flows from one offering to another."""

    id: str
    source: uuid.UUID
    target: uuid.UUID
    name: str


def _id(kind: str, value: uuid.UUID | str) -> str:
    # xs:ID must not start with a digit; a UUID may.
    return f"id-{kind}-{value}"


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _text(parent: ET.Element, tag: str, text: str, lang: str = "nl") -> None:
    ET.SubElement(parent, _q(tag), {XML_LANG: lang}).text = text


def landscape_model(
    municipality_id: uuid.UUID,
    municipality_name: str,
    components: Sequence[Component],
    flows: Sequence[Flow] = (),
) -> bytes:
    ET.register_namespace("", NS)
    ET.register_namespace("xsi", XSI)
    model = ET.Element(
        _q("model"),
        {"identifier": _id("model", municipality_id), f"{{{XSI}}}schemaLocation": SCHEMA_LOCATION},
    )
    _text(model, "name", f"Applicatielandschap {municipality_name}")
    _text(model, "documentation", f"Samen registry: the offerings {municipality_name} uses.", "en")
    elements = ET.SubElement(model, _q("elements"))
    actor = ET.SubElement(
        elements,
        _q("element"),
        {"identifier": _id("organisation", municipality_id), f"{{{XSI}}}type": "BusinessActor"},
    )
    _text(actor, "name", municipality_name)
    for component in components:
        element = ET.SubElement(
            elements,
            _q("element"),
            {"identifier": _id("offering", component.id), f"{{{XSI}}}type": "ApplicationComponent"},
        )
        _text(element, "name", component.name)
        values = [(k, v) for k, v in component.properties.items() if v]
        if values:
            properties = ET.SubElement(element, _q("properties"))
            for key, value in values:
                prop = ET.SubElement(
                    properties, _q("property"), {"propertyDefinitionRef": _id("property", key)}
                )
                _text(prop, "value", value)
    relationships = ET.SubElement(model, _q("relationships"))
    known = {c.id for c in components}
    for component in components:
        serving = ET.SubElement(
            relationships,
            _q("relationship"),
            {
                "identifier": _id("serving", component.id),
                "source": _id("offering", component.id),
                "target": _id("organisation", municipality_id),
                f"{{{XSI}}}type": "Serving",
            },
        )
        _text(serving, "name", "ondersteunt")
    for flow in flows:
        if flow.source in known and flow.target in known:
            relation = ET.SubElement(
                relationships,
                _q("relationship"),
                {
                    "identifier": _id("integration", flow.id),
                    "source": _id("offering", flow.source),
                    "target": _id("offering", flow.target),
                    f"{{{XSI}}}type": "Flow",
                },
            )
            _text(relation, "name", flow.name)
    definitions = ET.SubElement(model, _q("propertyDefinitions"))
    for key in PROPERTIES:
        definition = ET.SubElement(
            definitions,
            _q("propertyDefinition"),
            {"identifier": _id("property", key), "type": "string"},
        )
        _text(definition, "name", key)
    if not len(relationships):
        model.remove(relationships)
    return bytes(ET.tostring(model, encoding="utf-8", xml_declaration=True))
