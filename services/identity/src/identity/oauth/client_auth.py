"""Client authentication at the token, introspection and revocation endpoints.

``private_key_jwt`` (RFC 7523 §2.2, NL GOV): the assertion is signed with a key from the
client's registered JWKS (inline or by URI), ``iss`` = ``sub`` = client_id, ``aud`` is
the token endpoint or the issuer, it expires within five minutes and its ``jti`` is
never accepted twice. ``client_secret_basic`` only when the development setting allows
it. Public clients (``none``) only identify themselves, with PKCE protecting the code.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
import uuid
from collections.abc import Awaitable, Generator
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry, extract_compact, validate_compact
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ..clients.service import secret_matches
from ..common import utcnow
from ..db import HeldConnection
from ..models import Client, UsedJti
from .errors import OAuthError

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGS = ["RS256", "PS256", "ES256"]
_ASSERTION_REGISTRY = JWSRegistry(algorithms=ASSERTION_ALGS)
# authlib and other common clients default to one hour; longer is refused so the
# replay store stays bounded.
MAX_ASSERTION_LIFETIME = 3600
LEEWAY = 30


class ClientAuthenticator:
    def __init__(self, provider: Any) -> None:
        self.p = provider
        self._jwks_uri_cache: dict[str, tuple[float, KeySet]] = {}
        self._parsed: dict[str, KeySet] = {}
        self._jtis: _JtiWriter | None = None

    async def aclose(self) -> None:
        if self._jtis is not None:
            await self._jtis.aclose()

    async def authenticate(
        self, form: dict[str, str], authorization: str | None, endpoint_url: str
    ) -> Client:
        """The authenticated client, or ``invalid_client`` (401)."""
        client, confirm = await self.authenticate_pending(form, authorization, endpoint_url)
        await confirm
        return client

    async def authenticate_pending(
        self, form: dict[str, str], authorization: str | None, endpoint_url: str
    ) -> tuple[Client, Awaitable[None]]:
        """Like :meth:`authenticate`, but a ``private_key_jwt`` assertion's one-time id is
        only *sent* to be recorded: the client is returned with an awaitable that
        confirms it (or raises ``invalid_client`` for a replay). The caller must await it
        before anything it computed meanwhile leaves the process, and may do only work
        without side effects before (the client_credentials grant signs its token while
        the id's round trip is under way). Every other check is done already."""
        if authorization and authorization.lower().startswith("basic "):
            if "client_assertion" in form:
                raise OAuthError("invalid_request", "Use one client authentication method only.")
            return await self._basic(authorization), _DONE
        if form.get("client_assertion_type") or form.get("client_assertion"):
            return await self._private_key_jwt(form, endpoint_url)
        if "client_secret" in form:
            raise OAuthError("invalid_client", "client_secret_post is not supported.")
        client_id = form.get("client_id")
        if client_id:
            client = await self.p.clients.get(client_id)
            if client is not None and client.token_endpoint_auth_method == "none":  # noqa: S105
                return client, _DONE
        raise OAuthError("invalid_client", "Client authentication failed.")

    async def _basic(self, authorization: str) -> Client:
        try:
            raw = base64.b64decode(authorization[6:].strip(), validate=True).decode()
            client_id, _, secret = raw.partition(":")
            client_id, secret = unquote(client_id), unquote(secret)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise OAuthError("invalid_client", "Malformed Basic credentials.") from None
        client = await self.p.clients.get(client_id)
        if not self.p.settings.allow_client_secret_basic:
            raise OAuthError("invalid_client", "client_secret_basic is disabled here.")
        if (
            client is None
            or client.token_endpoint_auth_method != "client_secret_basic"  # noqa: S105
            or not secret_matches(client, secret)
        ):
            raise OAuthError("invalid_client", "Client authentication failed.")
        return client

    async def _client_keys(self, client: Client) -> KeySet:
        if client.jwks:
            # Parsed key sets by content: a JWK Set's parse is fixed by its JSON, so an
            # entry can never be stale — a changed registration has other content (and
            # the client row itself is re-read after the client cache's few seconds).
            text = json.dumps(client.jwks, sort_keys=True, separators=(",", ":"))
            keys = self._parsed.get(text)
            if keys is None:
                keys = KeySet.import_key_set(client.jwks)  # type: ignore[arg-type]
                if len(self._parsed) >= 1000:
                    self._parsed.clear()
                self._parsed[text] = keys
            return keys
        uri = client.jwks_uri
        if not uri:
            raise OAuthError("invalid_client", "The client has no registered keys.")
        hit = self._jwks_uri_cache.get(uri)
        if hit and time.monotonic() - hit[0] < 300:
            return hit[1]
        try:
            response = await self.p.http.get(uri, timeout=5.0)
            response.raise_for_status()
            keys = KeySet.import_key_set(response.json())
        except (httpx.HTTPError, ValueError, JoseError):
            raise OAuthError("invalid_client", "The client's jwks_uri could not be read.") from None
        if len(self._jwks_uri_cache) >= 1000:
            self._jwks_uri_cache.clear()
        self._jwks_uri_cache[uri] = (time.monotonic(), keys)
        return keys

    async def _private_key_jwt(
        self, form: dict[str, str], endpoint_url: str
    ) -> tuple[Client, Awaitable[None]]:
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise OAuthError("invalid_client", "Unsupported client_assertion_type.")
        assertion = form.get("client_assertion") or ""
        try:
            unverified = extract_compact(assertion.encode("ascii"), registry=_ASSERTION_REGISTRY)
            claims = json.loads(unverified.payload)
        except (JoseError, ValueError, UnicodeError):
            raise OAuthError("invalid_client", "The client assertion is malformed.") from None
        client_id = claims.get("iss") if isinstance(claims, dict) else None
        if not isinstance(client_id, str) or (
            form.get("client_id") and form["client_id"] != client_id
        ):
            raise OAuthError("invalid_client", "The client assertion names another client.")
        client = await self.p.clients.get(client_id)
        if client is None or client.token_endpoint_auth_method != "private_key_jwt":  # noqa: S105
            raise OAuthError("invalid_client", "Client authentication failed.")
        keys = await self._client_keys(client)
        # The signature of the object parsed above is verified (the JWT is decoded
        # once; ``claims`` came from exactly the payload that is verified here).
        try:
            valid = validate_compact(unverified, keys, registry=_ASSERTION_REGISTRY)
        except (JoseError, ValueError):
            valid = False
        if not valid or not isinstance(claims, dict):
            raise OAuthError("invalid_client", "The client assertion's signature is invalid.")
        c = claims
        now = int(time.time())
        if c.get("sub") != client_id:
            raise OAuthError("invalid_client", "The assertion's sub must be the client_id.")
        aud = c.get("aud")
        auds = [aud] if isinstance(aud, str) else list(aud or [])
        accepted = {self.p.issuer, self.p.url("/auth/token"), endpoint_url}
        if not auds or not set(auds) & accepted:
            raise OAuthError(
                "invalid_client", "The assertion's aud must be the token endpoint or issuer."
            )
        exp = c.get("exp")
        if not isinstance(exp, int) or exp < now - LEEWAY:
            raise OAuthError("invalid_client", "The client assertion has expired.")
        if exp > now + MAX_ASSERTION_LIFETIME + LEEWAY:
            raise OAuthError("invalid_client", "The client assertion lives too long (max 1 h).")
        nbf = c.get("nbf")
        if isinstance(nbf, int) and nbf > now + LEEWAY:
            raise OAuthError("invalid_client", "The client assertion is not valid yet.")
        jti = c.get("jti")
        if not isinstance(jti, str) or not 8 <= len(jti) <= 255 or not jti.isprintable():
            raise OAuthError("invalid_client", "The client assertion needs a jti.")
        confirm = await self.send_jti("client_assertion", client_id, jti, exp + LEEWAY)
        return client, confirm

    async def remember_jti(self, kind: str, issuer: str, jti: str, expires_epoch: int) -> None:
        """Record a one-time id; raises ``invalid_client`` if it was used before."""
        await (await self.send_jti(kind, issuer, jti, expires_epoch))

    async def send_jti(
        self, kind: str, issuer: str, jti: str, expires_epoch: int
    ) -> Awaitable[None]:
        """Record a one-time id; a second use is refused (unique constraint in the
        database all workers share).

        On PostgreSQL the ids of concurrent requests are written together: one
        multi-row ``INSERT … ON CONFLICT DO NOTHING RETURNING`` in autocommit mode (one
        statement is atomic by itself), sent as soon as the previous one returned; an id
        not returned already existed (or came twice in the batch) and is refused. Under
        load this replaces one statement per grant by one per batch, with no waiting
        when idle. SQLite (development, tests) inserts one row in its own transaction."""
        expires = utcnow() + timedelta(seconds=max(0, expires_epoch - int(time.time())))
        values = {"id": uuid.uuid4(), "kind": kind, "issuer": issuer, "jti": jti}
        values["expires_at"] = expires
        engine: AsyncEngine = self.p.sessionmaker.kw["bind"]
        if engine.dialect.name == "postgresql":
            if self._jtis is None:
                self._jtis = _JtiWriter(engine)
            future = self._jtis.add(values)
            # Let the writer send the statement now, so its round trip overlaps with
            # whatever the caller does before awaiting the answer.
            await asyncio.sleep(0)
            return _confirm(future)
        try:
            async with engine.begin() as connection:
                await connection.execute(insert(_USED_JTIS), values)
        except IntegrityError:
            raise OAuthError("invalid_client", "This client assertion was already used.") from None
        return _DONE


class _Done:
    """An awaitable that is already done (nothing left to confirm)."""

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield


_DONE = _Done()


async def _confirm(future: asyncio.Future[bool]) -> None:
    # Shielded: a request that goes away does not cancel the others' insert.
    if not await asyncio.shield(future):
        raise OAuthError("invalid_client", "This client assertion was already used.")


class _JtiWriter:
    """Group insert of one-time ids (see ``ClientAuthenticator.remember_jti``)."""

    MAX_BATCH = 500

    def __init__(self, engine: AsyncEngine) -> None:
        # Batches are sent one at a time (one drain task), so one held connection serves
        # them all without a pool checkout per batch.
        self._connection = HeldConnection(engine)
        self._pending: list[tuple[dict[str, Any], asyncio.Future[bool]]] = []
        self._task: asyncio.Task[None] | None = None

    def add(self, values: dict[str, Any]) -> asyncio.Future[bool]:
        """Queue an id: the future says True if it was new and is now recorded, False if
        it was seen before."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((values, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return future

    async def _drain(self) -> None:
        while self._pending:
            batch = self._pending[: self.MAX_BATCH]
            del self._pending[: self.MAX_BATCH]
            rows: list[dict[str, Any]] = []
            waiting: dict[tuple[str, str, str], asyncio.Future[bool]] = {}
            for values, future in batch:
                key = (values["kind"], values["issuer"], values["jti"])
                if key in waiting:
                    future.set_result(False)  # the same id twice in one batch
                else:
                    waiting[key] = future
                    rows.append(values)
            try:
                inserted = await self._insert(rows)
            except Exception as exc:
                for future in waiting.values():
                    if not future.done():
                        future.set_exception(exc)
                        future.exception()  # retrieved even if its request went away
                continue
            except BaseException:  # cancelled (shutdown): nothing was confirmed
                for future in waiting.values():
                    future.cancel()
                for _values, future in self._pending:
                    future.cancel()
                self._pending.clear()
                raise
            for key, future in waiting.items():
                if not future.done():
                    future.set_result(key in inserted)

    async def aclose(self) -> None:
        """Shutdown: let a running batch finish, then give the connection back."""
        if self._task is not None and not self._task.done():
            await asyncio.wait([self._task], timeout=5)
        await self._connection.close()

    async def _insert(self, rows: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
        """One ``INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING RETURNING`` on the
        held connection's asyncpg driver connection: one prepared statement for any batch
        size, no ORM/Core compilation, committed by itself (autocommit)."""
        columns: tuple[list[Any], ...] = ([], [], [], [], [])
        for row in rows:
            for column, name in zip(columns, _JTI_COLUMNS, strict=True):
                column.append(row[name])
        records = await self._connection.fetch(_INSERT_JTIS, *columns)
        return {(r[0], r[1], r[2]) for r in records}


_USED_JTIS: Any = UsedJti.__table__  # type: ignore[attr-defined]
"""The identity service's own table metadata (never shared with other services)."""
_JTI_COLUMNS = ("id", "kind", "issuer", "jti", "expires_at")
_INSERT_JTIS = (
    "INSERT INTO used_jtis (id, kind, issuer, jti, expires_at) "
    "SELECT * FROM unnest($1::uuid[], $2::varchar[], $3::varchar[], $4::varchar[], "
    "$5::timestamptz[]) ON CONFLICT DO NOTHING RETURNING kind, issuer, jti"
)
