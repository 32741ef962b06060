"""The main menu and, inside a section of several pages, the section's menu: what this
person may use, by organisation and role, and which entry the current page belongs to.

A municipality's own pages and the platform operator's are sections: one entry each in the
main menu (which then fits on one line at desktop width for every role), their pages in a
second menu shown on those pages."""

from __future__ import annotations

from dataclasses import dataclass

from ..sessions.service import Session


@dataclass(frozen=True)
class Link:
    href: str
    key: str  # the text's key
    # Further paths whose pages belong to this entry (a page reached from its page).
    owns: tuple[str, ...] = ()

    def claim(self, path: str) -> int:
        """How specifically this entry holds ``path``: the length of the longest of its
        paths that ``path`` is or lies under; 0 when none ("/" holds only itself)."""
        best = 0
        for prefix in (self.href, *self.owns):
            if path == prefix or (prefix != "/" and path.startswith(prefix + "/")):
                best = max(best, len(prefix))
        return best


@dataclass(frozen=True)
class Entry:
    """One main-menu entry: a page, or a section whose ``pages`` have a menu of their own
    (the entry then leads to the first of them)."""

    link: Link
    pages: tuple[Link, ...] = ()


@dataclass(frozen=True)
class MenuItem:
    href: str
    key: str
    # aria-current: "page" on the page itself, "true" on a page or section it lies under.
    current: str | None


@dataclass(frozen=True)
class Menus:
    main: list[MenuItem]
    section: list[MenuItem]  # the current section's pages; empty outside a section
    section_key: str | None  # the section's name (the second menu's label)


MUNICIPALITY = Entry(
    Link("/municipality/usages", "nav.our_municipality"),
    (
        Link("/municipality/usages", "nav.municipality", owns=("/municipality/radar",)),
        Link("/municipality/landscape", "nav.landscape"),
        Link("/municipality/exposures", "nav.exposures"),
        Link("/initiatives/decisions", "nav.decisions"),
    ),
)
OPERATOR = Entry(
    Link("/operator/facilities", "nav.operator"),
    (
        Link("/operator/facilities", "nav.operator_facilities"),
        Link("/operator/vulnerabilities", "nav.vulnerabilities"),
        Link("/operator/clients", "op.clients"),
        Link("/operator/population", "pop.title"),
        Link("/operator/mergers", "merge.title"),
    ),
)


def entries(session: Session) -> list[Entry]:
    """The main menu's entries this person may use."""
    items = [
        Entry(Link("/", "nav.catalogue", owns=("/facilities", "/organisations"))),
        Entry(Link("/tenders", "nav.tenders")),
        Entry(Link("/initiatives", "nav.initiatives")),
    ]
    person = session.data.person
    if person is None:
        return items
    items.append(Entry(Link("/mydata", "nav.mydata")))
    roles = set(person.roles)
    if person.org_type == "supplier" and "registry-editor" in roles:
        items.append(Entry(Link("/supplier/offerings", "nav.supplier")))
    if person.org_type == "municipality" and "registry-editor" in roles:
        items.append(MUNICIPALITY)
    if person.org_type == "municipality" and "procurement-enroller" in roles:
        items.append(Entry(Link("/enrollment", "nav.enrollment")))
    if "procurement-manager" in roles:
        items.append(Entry(Link("/leading/tenders", "nav.leading")))
    if "platform-admin" in roles:
        items.append(OPERATOR)
    return items


def menus(session: Session, path: str) -> Menus:
    """The menus of the page at ``path``: its entry is the one holding it most specifically."""
    found: tuple[int, Entry | None, Link | None] = (0, None, None)
    all_entries = entries(session)
    for entry in all_entries:
        for link in entry.pages or (entry.link,):
            claim = link.claim(path)
            if claim > found[0]:
                found = (claim, entry, link)
    _, here, page = found

    def current(link: Link, holds: bool) -> str | None:
        if not holds:
            return None
        return "page" if path == link.href else "true"

    # A section's entry is never the page itself: its page is marked in the section's menu.
    main = [
        MenuItem(
            entry.link.href,
            entry.link.key,
            "true" if entry is here and entry.pages else current(entry.link, entry is here),
        )
        for entry in all_entries
    ]
    if here is None or not here.pages:
        return Menus(main, [], None)
    section = [MenuItem(link.href, link.key, current(link, link is page)) for link in here.pages]
    return Menus(main, section, here.link.key)
