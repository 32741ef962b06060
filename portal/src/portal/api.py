"""Calls to the platform's APIs, always through the gateway.

With the person's access token (refreshed when it is about to expire), or — for public
pages — with the portal's own read token. Every answer that is not a success becomes one
of the exceptions below, which the pages turn into messages or error pages."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from .auth.oidc import IdentityUnavailable, OidcClient, TokenExpired
from .config import Settings
from .sessions.service import Session


class NotLoggedIn(Exception):
    """The page needs a logged-in person (or the session's tokens ran out)."""


class StepUpRequired(Exception):
    """The API wants a higher level of assurance than the session has."""

    def __init__(self, acr: str) -> None:
        super().__init__(acr)
        self.acr = acr


class ApiUnavailable(Exception):
    """The gateway or a service behind it did not answer usefully (down, timeout, 502-504)."""


@dataclass
class ApiProblem(Exception):
    """An RFC 9457 problem from an API, with ``invalidParams`` by parameter name."""

    status: int
    title: str = ""
    detail: str = ""
    invalid_params: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.title}"


@dataclass
class ApiResult:
    status: int
    data: Any
    headers: httpx.Headers

    @property
    def etag(self) -> str:
        return self.headers.get("etag", "")


def problem_of(response: httpx.Response) -> ApiProblem:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    params: dict[str, str] = {}
    for item in body.get("invalidParams") or []:
        if isinstance(item, dict) and "name" in item:
            name = str(item["name"]).removeprefix("body.")
            params.setdefault(name, str(item.get("reason", "")))
    return ApiProblem(
        status=response.status_code,
        title=str(body.get("title", "")),
        detail=str(body.get("detail", "")),
        invalid_params=params,
        body=body,
    )


def required_acr(response: httpx.Response) -> str | None:
    """The level an API asks for (procurement's 403 with ``requiredAcr``)."""
    if response.status_code not in (401, 403):
        return None
    challenge = response.headers.get("www-authenticate", "")
    try:
        body = response.json()
    except ValueError:
        body = {}
    acr = body.get("requiredAcr") if isinstance(body, dict) else None
    if acr or "insufficient_user_authentication" in challenge:
        return str(acr or "http://eidas.europa.eu/LoA/substantial")
    return None


class Api:
    """One per process: the HTTP pool to the gateway and the token sources."""

    def __init__(self, settings: Settings, oidc: OidcClient, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.oidc = oidc
        self.http = http
        self.base = settings.gateway_url.rstrip("/")

    async def person_token(self, session: Session) -> str:
        tokens = session.data.tokens
        if session.data.person is None or tokens is None:
            raise NotLoggedIn
        if tokens.expires_at - self.settings.refresh_leeway_seconds <= time.time():
            try:
                session.data.tokens = await self.oidc.refresh(tokens)
            except TokenExpired:
                session.data.person = None
                session.data.tokens = None
                session.changed()
                raise NotLoggedIn from None
            except IdentityUnavailable as exc:
                raise ApiUnavailable(str(exc)) from exc
            session.changed()
        assert session.data.tokens is not None
        return session.data.tokens.access_token

    async def call(
        self,
        method: str,
        path: str,
        *,
        session: Session | None = None,
        params: dict[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        accept: str = "application/json",
    ) -> ApiResult:
        """``session`` given: as that person; else with the portal's read token.
        ``content``: a body that is not JSON (its Content-Type in ``headers``)."""
        try:
            token = (
                await self.person_token(session)
                if session is not None
                else await self.oidc.machine_token()
            )
        except IdentityUnavailable as exc:
            raise ApiUnavailable(str(exc)) from exc
        sent = {"Authorization": f"Bearer {token}", "Accept": accept, **(headers or {})}
        try:
            response = await self.http.request(
                method,
                f"{self.base}{path}",
                params=params,
                json=json,
                content=content,
                headers=sent,
            )
        except httpx.HTTPError as exc:
            raise ApiUnavailable(type(exc).__name__) from exc
        if response.status_code < 300:
            is_json = "json" in response.headers.get("content-type", "")
            data = response.json() if is_json and response.content else response.text
            return ApiResult(response.status_code, data, response.headers)
        acr = required_acr(response)
        if acr is not None and session is not None:
            raise StepUpRequired(acr)
        if response.status_code == 401 and session is not None:
            session.data.person = None
            session.data.tokens = None
            session.changed()
            raise NotLoggedIn
        if response.status_code in (429, 502, 503, 504):
            raise ApiUnavailable(f"HTTP {response.status_code}")
        raise problem_of(response)

    async def get(self, path: str, **kwargs: Any) -> Any:
        return (await self.call("GET", path, **kwargs)).data

    async def merge_patch(
        self, path: str, body: dict[str, Any], etag: str, session: Session
    ) -> ApiResult:
        """A JSON merge patch (RFC 7396) of the version the person read (``If-Match``)."""
        headers = {"If-Match": etag, "Content-Type": "application/merge-patch+json"}
        return await self.call("PATCH", path, session=session, json=body, headers=headers)
