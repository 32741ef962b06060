"""What a session holds. Never sent to the browser: only the session id travels."""

from __future__ import annotations

from pydantic import BaseModel, Field

LOA_ORDER = (
    "http://eidas.europa.eu/LoA/low",
    "http://eidas.europa.eu/LoA/substantial",
    "http://eidas.europa.eu/LoA/high",
)


def loa_rank(acr: str) -> int:
    return LOA_ORDER.index(acr) if acr in LOA_ORDER else -1


class Person(BaseModel):
    """The logged-in person, from the validated ID token."""

    sub: str
    name: str = ""
    acr: str = ""
    org_id: str | None = None
    org_type: str | None = None
    org_name: str | None = None
    roles: list[str] = Field(default_factory=list)


class Tokens(BaseModel):
    access_token: str
    expires_at: float  # epoch seconds
    scope: list[str] = Field(default_factory=list)
    refresh_token: str | None = None
    id_token: str | None = None  # the hint for end-session


class PendingLogin(BaseModel):
    """One authorization request on its way: checked when identity sends the person back."""

    nonce: str
    verifier: str
    next: str = "/"
    acr: str | None = None
    send_again: bool = False
    created_at: float


class PendingForm(BaseModel):
    """A form a person filled in before being sent to log in again (step-up): shown
    again, with the same input, when they come back."""

    path: str
    fields: dict[str, str]
    created_at: float


class SessionData(BaseModel):
    csrf: str
    person: Person | None = None
    tokens: Tokens | None = None
    logins: dict[str, PendingLogin] = Field(default_factory=dict)  # by state
    forms: dict[str, PendingForm] = Field(default_factory=dict)  # by path
    flash: list[str] = Field(default_factory=list)  # catalogue keys shown once
