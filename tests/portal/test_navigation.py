"""The menus: what each person may use, sections of several pages under one main entry, and
which entry the page shown belongs to."""

from __future__ import annotations

from portal.sessions.schemas import Person
from portal.sessions.service import Session, new_data
from portal.web.navigation import menus


def session_of(person: Person | None) -> Session:
    session = Session(None, new_data())
    session.data.person = person
    return session


MUNICIPAL_STAFF = Person(
    sub="m",
    org_type="municipality",
    roles=["registry-editor", "procurement-enroller", "procurement-manager"],
)
OPERATOR = Person(sub="o", org_type="operator", roles=["platform-admin"])


def main_hrefs(person: Person | None, path: str = "/") -> list[str]:
    return [item.href for item in menus(session_of(person), path).main]


def test_anonymous_visitors_see_the_public_sections_only() -> None:
    assert main_hrefs(None) == ["/", "/tenders", "/initiatives"]
    assert menus(session_of(None), "/").section == []


def test_municipal_pages_are_one_section_of_the_main_menu() -> None:
    assert main_hrefs(MUNICIPAL_STAFF) == [
        "/",
        "/tenders",
        "/initiatives",
        "/mydata",
        "/municipality/usages",
        "/enrollment",
        "/leading/tenders",
    ]
    # A supplier's staff never sees a municipality's section, whatever their roles.
    supplier = Person(sub="s", org_type="supplier", roles=["registry-editor"])
    assert "/municipality/usages" not in main_hrefs(supplier)
    assert "/supplier/offerings" in main_hrefs(supplier)


def test_a_page_of_a_section_marks_its_section_and_itself() -> None:
    shown = menus(session_of(MUNICIPAL_STAFF), "/municipality/landscape")
    assert [(i.href, i.current) for i in shown.main if i.current] == [
        ("/municipality/usages", "true")
    ]
    assert shown.section_key == "nav.our_municipality"
    assert [(i.href, i.current) for i in shown.section] == [
        ("/municipality/usages", None),
        ("/municipality/landscape", "page"),
        ("/municipality/exposures", None),
        ("/initiatives/decisions", None),
    ]


def test_the_most_specific_entry_holds_the_page() -> None:
    # Decisions lie under /initiatives but belong to the municipality's section.
    shown = menus(session_of(MUNICIPAL_STAFF), "/initiatives/decisions")
    assert [i.href for i in shown.main if i.current] == ["/municipality/usages"]
    assert [i.href for i in shown.section if i.current] == ["/initiatives/decisions"]
    # Someone without that section reads decisions' path as part of the initiatives.
    visitor = menus(session_of(None), "/initiatives/decisions")
    assert [(i.href, i.current) for i in visitor.main if i.current] == [("/initiatives", "true")]
    assert visitor.section == []


def test_a_sub_page_marks_the_page_it_was_reached_from() -> None:
    radar = menus(session_of(MUNICIPAL_STAFF), "/municipality/radar")
    assert [(i.href, i.current) for i in radar.section if i.current] == [
        ("/municipality/usages", "true")
    ]
    new_usage = menus(session_of(MUNICIPAL_STAFF), "/municipality/usages/new")
    assert [(i.href, i.current) for i in new_usage.section if i.current] == [
        ("/municipality/usages", "true")
    ]


def test_the_catalogue_holds_its_own_pages_but_not_every_path() -> None:
    home = menus(session_of(None), "/")
    assert [(i.href, i.current) for i in home.main if i.current] == [("/", "page")]
    facility = menus(session_of(None), "/facilities/digid")
    assert [(i.href, i.current) for i in facility.main if i.current] == [("/", "true")]
    # "/" holds only itself; a path sharing a prefix with an entry is not under it.
    assert not [i for i in menus(session_of(None), "/accessibility").main if i.current]
    assert not [i for i in menus(session_of(None), "/tendersx").main if i.current]


def test_the_operator_reaches_every_management_page_from_the_section() -> None:
    assert main_hrefs(OPERATOR)[-1] == "/operator/facilities"
    shown = menus(session_of(OPERATOR), "/operator/mergers/m-1")
    assert [i.href for i in shown.section] == [
        "/operator/facilities",
        "/operator/vulnerabilities",
        "/operator/clients",
        "/operator/population",
        "/operator/mergers",
    ]
    assert [(i.href, i.current) for i in shown.section if i.current] == [
        ("/operator/mergers", "true")
    ]
