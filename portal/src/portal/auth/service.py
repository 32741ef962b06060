"""Log-in and log-out against the session: what /login, /login/callback and /logout do."""

from __future__ import annotations

import secrets
import time
from urllib.parse import urlsplit

from ..sessions.schemas import PendingLogin
from ..sessions.service import Session
from .oidc import LoginFailed, OidcClient, pkce_pair

# Log-ins still on their way are kept this long, and at most this many per session.
PENDING_SECONDS = 600
PENDING_MAX = 5
ACR_VALUES = {
    "http://eidas.europa.eu/LoA/low",
    "http://eidas.europa.eu/LoA/substantial",
    "http://eidas.europa.eu/LoA/high",
}


def safe_next(target: str | None) -> str:
    """Only a path on this site (no open redirect through ``next``)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target:
        return "/"
    return target


def start_login(
    oidc: OidcClient,
    session: Session,
    next_path: str | None,
    acr: str | None,
    lang: str,
    send_again: bool = False,
) -> str:
    """Record a pending authorization request; the URL to send the browser to.
    ``send_again``: a step-up interrupted a form or button; on return the person is told
    that nothing was sent yet."""
    now = time.time()
    logins = {
        state: login
        for state, login in session.data.logins.items()
        if now - login.created_at < PENDING_SECONDS
    }
    while len(logins) >= PENDING_MAX:
        logins.pop(min(logins, key=lambda s: logins[s].created_at))
    state = secrets.token_urlsafe(24)
    nonce = secrets.token_urlsafe(24)
    verifier, challenge = pkce_pair()
    wanted = acr if acr in ACR_VALUES else None
    logins[state] = PendingLogin(
        nonce=nonce,
        verifier=verifier,
        next=safe_next(next_path),
        acr=wanted,
        send_again=send_again,
        created_at=now,
    )
    session.data.logins = logins
    session.csrf_token()  # the session must exist when identity sends the person back
    session.changed()
    return oidc.authorization_url(state, nonce, challenge, wanted, lang)


async def finish_login(oidc: OidcClient, session: Session, state: str, code: str) -> str:
    """Redeem the code, validate the ID token, keep the person; where to go next."""
    pending = session.data.logins.pop(state, None) if state else None
    session.changed()
    if pending is None or time.time() - pending.created_at > PENDING_SECONDS:
        raise LoginFailed("unknown or expired state")
    person, tokens = await oidc.exchange_code(code, pending.verifier, pending.nonce, pending.acr)
    session.rotate()  # a new session id at log-in
    session.data.person = person
    session.data.tokens = tokens
    session.data.logins = {}
    if pending.send_again:
        session.data.flash.append("flash.send_again")
    return pending.next


def logout(oidc: OidcClient, session: Session) -> str:
    """End the portal session; the URL of identity's end-session."""
    id_token = session.data.tokens.id_token if session.data.tokens else None
    session.end()
    return oidc.end_session_url(id_token)
