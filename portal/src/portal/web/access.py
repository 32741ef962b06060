"""Who may open a page: a logged-in person, of an organisation type, with a role, at a
level of assurance. Pages call these first; the error pages do the rest (log-in, step-up
with the form kept, or 403)."""

from __future__ import annotations

from starlette.requests import Request

from ..api import NotLoggedIn, StepUpRequired
from ..sessions.schemas import Person, loa_rank
from .templating import session_of


class Forbidden(Exception):
    """Logged in, but not as someone who may do this (shown as the 403 page)."""


def require_person(
    request: Request, org_type: str | None = None, role: str | None = None
) -> Person:
    person = session_of(request).data.person
    if person is None:
        raise NotLoggedIn
    if org_type is not None and person.org_type != org_type:
        raise Forbidden
    if role is not None and role not in person.roles:
        raise Forbidden
    return person


def require_level(request: Request, acr: str) -> None:
    """Step up before the action when the session's level is below ``acr``: the person logs
    in again at that level and comes back to the same form (a POST keeps its input)."""
    person = require_person(request)
    if loa_rank(person.acr) < loa_rank(acr):
        raise StepUpRequired(acr)
