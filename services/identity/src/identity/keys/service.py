"""Signing and encryption keys: generated, stored encrypted, published in the JWKS, rotated.

Per algorithm (RS256 and PS256) there is one *active* key that signs, one *next* key
that is already published (so relying parties have it cached before it signs) and any
number of *retired* keys, still published until ``retire_after`` (longer than the
longest token lifetime) and then *removed*: tokens signed by a removed key stop verifying.

The key clients encrypt request objects to (``use: enc``) is rotated by the same command:
the *active* one is published first; a rotation retires it (still published and still
decrypting until ``retire_after``, so a client that cached the JWKS keeps working) and
creates a new active one. It needs no *next* key: nobody verifies with it, and a process
that cannot open a request object with the keys it loaded (another pod rotated since)
reloads them once.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from servicekit.clock import aware, utcnow

from ..audit.repository import add_audit
from ..crypto import Sealer
from . import repository
from .models import SigningKey

OP_ALGORITHMS = ("RS256", "PS256")
SIM_ALGORITHM = "RS256"
# Clients encrypt request objects to this key (published in the JWKS with use "enc").
ENCRYPTION_ALGORITHM = "RSA-OAEP-256"
# A request object for a key this process does not know reloads the keys at most this often.
RELOAD_AFTER_MISS_SECONDS = 5.0
# How long a verifier may keep the JWKS (its Cache-Control max-age): a next key signs only
# after it has been published this long, so every verifier can already know it.
JWKS_MAX_AGE_SECONDS = 300


def _generate(alg: str, use: str = "sig") -> RSAKey:
    kid = f"{alg.lower()}-{uuid.uuid4().hex[:16]}"
    return RSAKey.generate_key(2048, parameters={"kid": kid, "alg": alg, "use": use})


@dataclass
class LoadedKeys:
    signing: dict[str, RSAKey]  # alg → active key (purpose "op")
    simulator: RSAKey | None
    published: list[dict[str, Any]]  # public JWKs of the OP
    simulator_published: list[dict[str, Any]]
    loaded_at: float
    # purpose "encryption": the active key first, then the retired ones still published
    decryption: list[RSAKey] = field(default_factory=list)
    # The published JWKs, parsed once per load rather than per verified token.
    key_sets: dict[str, KeySet] = field(default_factory=dict)

    def key_set(self, which: str) -> KeySet:
        """The parsed JWK Set ("op" or "simulator"); raises ValueError if unusable."""
        found = self.key_sets.get(which)
        if found is None:
            from joserfc.errors import JoseError

            jwks = self.published if which == "op" else self.simulator_published
            try:
                found = KeySet.import_key_set({"keys": jwks})
            except (JoseError, ValueError, TypeError) as exc:
                raise ValueError("invalid token") from exc
            self.key_sets[which] = found
        return found


class KeyStore:
    """Loads keys from the database, caches them for ``ttl`` seconds, signs tokens."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        key_encryption_key: str | Sequence[str],
        retention_seconds: int,
        ttl: float = 30.0,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._sealer = Sealer(key_encryption_key, "signing-keys")
        self._retention = retention_seconds
        self._ttl = ttl
        self._loaded: LoadedKeys | None = None
        # Private keys by their sealed form, kept across reloads: importing an RSA key
        # (which validates it) takes tens of milliseconds of the event loop, and the same
        # keys come back every ``ttl`` seconds.
        self._private: dict[str, RSAKey] = {}
        self._lock = asyncio.Lock()
        self._reloaded_after_miss = float("-inf")

    def _new_row(self, key: RSAKey, purpose: str, status: str) -> SigningKey:
        now = utcnow()
        return SigningKey(
            kid=key.kid or "",
            alg=str(key.alg),
            purpose=purpose,
            status=status,
            private_jwk_encrypted=self._sealer.seal(dict(key.as_dict(private=True))),
            public_jwk=dict(key.as_dict(private=False)),
            created_at=now,
            activated_at=now if status == "active" else None,
        )

    async def ensure(self) -> None:
        """Create the missing active/next keys (idempotent; safe on every start-up)."""
        async with self._sessionmaker() as session, session.begin():
            await repository.lock_keys(session)
            rows = await repository.all_keys(session)
            have = {(r.purpose, r.alg, r.status) for r in rows}
            for alg in OP_ALGORITHMS:
                for status in ("active", "next"):
                    if ("op", alg, status) not in have:
                        session.add(self._new_row(_generate(alg), "op", status))
            if ("simulator", SIM_ALGORITHM, "active") not in have:
                session.add(self._new_row(_generate(SIM_ALGORITHM), "simulator", "active"))
            if ("encryption", ENCRYPTION_ALGORITHM, "active") not in have:
                key = _generate(ENCRYPTION_ALGORITHM, use="enc")
                session.add(self._new_row(key, "encryption", "active"))
        self._loaded = None

    async def rotate(self, actor: str = "operator", *, at_once: bool = False) -> dict[str, Any]:
        """Signing keys: promote next → active, active → retired, publish a new next.
        A next key published less than :data:`JWKS_MAX_AGE_SECONDS` ago is not promoted
        (``summary["waiting"]``; its algorithm keeps its active key) unless ``at_once``
        (after a leak, when tokens failing at a verifier with an old JWKS are the lesser
        harm). The encryption key: active → retired, a new active one
        (``summary["encryption"]``). Prune expired."""
        now = utcnow()
        ahead = timedelta(seconds=JWKS_MAX_AGE_SECONDS)
        summary: dict[str, Any] = {
            "activated": [], "retired": [], "published": [], "waiting": [], "removed": []
        }  # fmt: skip
        async with self._sessionmaker() as session, session.begin():
            await repository.lock_keys(session)
            encryption = await repository.all_keys(session, "encryption")
            summary["encryption"] = self._rotate_encryption(session, encryption, now)
            rows = await repository.all_keys(session, "op")
            for alg in OP_ALGORITHMS:
                active = [r for r in rows if r.alg == alg and r.status == "active"]
                nxt = [r for r in rows if r.alg == alg and r.status == "next"]
                if not nxt:
                    # Nothing published ahead: publish one now and activate it next time.
                    fresh = self._new_row(_generate(alg), "op", "next")
                    session.add(fresh)
                    summary["published"].append(fresh.kid)
                    continue
                if not at_once and now - aware(nxt[0].created_at) < ahead:
                    summary["waiting"].append(nxt[0].kid)
                    continue
                for row in active:
                    summary["retired"].append(self._retire(row, now))
                promoted = nxt[0]
                promoted.status = "active"
                promoted.activated_at = now
                summary["activated"].append(promoted.kid)
                fresh = self._new_row(_generate(alg), "op", "next")
                session.add(fresh)
                summary["published"].append(fresh.kid)
            summary["removed"] = await repository.remove_expired(session)
            add_audit(session, actor=actor, action="keys.rotated", subject="jwks", detail=summary)
        self._loaded = None
        return summary

    def _retire(self, row: SigningKey, now: datetime) -> str:
        row.status = "retired"
        row.retired_at = now
        row.retire_after = now + timedelta(seconds=self._retention)
        return row.kid

    def _rotate_encryption(
        self, session: AsyncSession, rows: Sequence[SigningKey], now: datetime
    ) -> dict[str, Any]:
        """The active encryption key retires (published and decrypting until retire_after);
        a new one is active at once (nobody verifies with it: no *next* key needed)."""
        retired = [
            self._retire(row, now)
            for row in rows
            if row.alg == ENCRYPTION_ALGORITHM and row.status == "active"
        ]
        fresh = self._new_row(_generate(ENCRYPTION_ALGORITHM, use="enc"), "encryption", "active")
        session.add(fresh)
        return {"activated": fresh.kid, "retired": retired}

    async def prune(self, actor: str = "operator") -> list[str]:
        async with self._sessionmaker() as session, session.begin():
            removed = await repository.remove_expired(session)
            if removed:
                add_audit(
                    session,
                    actor=actor,
                    action="keys.removed",
                    subject="jwks",
                    detail={"removed": removed},
                )
        self._loaded = None
        return removed

    async def load(self, force: bool = False) -> LoadedKeys:
        loaded = self._loaded
        if loaded and not force and time.monotonic() - loaded.loaded_at < self._ttl:
            return loaded
        async with self._lock:
            loaded = self._loaded
            if loaded and not force and time.monotonic() - loaded.loaded_at < self._ttl:
                return loaded
            async with self._sessionmaker() as session:
                rows = await repository.published_keys(session)
            now = utcnow()
            signing: dict[str, RSAKey] = {}
            simulator: RSAKey | None = None
            published: list[dict[str, Any]] = []
            sim_published: list[dict[str, Any]] = []
            decryption: list[RSAKey] = []
            encryption: list[dict[str, Any]] = []
            private: dict[str, RSAKey] = {}
            # Encryption keys: the active one first (clients take the first ``enc`` key),
            # then the retired ones, newest first.
            for row in sorted(rows, key=_publication_order):
                if row.status == "retired" and row.retire_after and aware(row.retire_after) <= now:
                    continue  # past its retention: no longer published even before pruning
                if row.purpose == "encryption":
                    encryption.append(dict(row.public_jwk))
                    decryption.append(self._private_key(row.private_jwk_encrypted, private))
                    continue
                (published if row.purpose == "op" else sim_published).append(dict(row.public_jwk))
                if row.status != "active":
                    continue
                key = self._private_key(row.private_jwk_encrypted, private)
                if row.purpose == "op":
                    signing[row.alg] = key
                else:
                    simulator = key
            self._private = private
            self._loaded = LoadedKeys(
                signing,
                simulator,
                published + encryption,
                sim_published,
                time.monotonic(),
                decryption,
            )
            return self._loaded

    def _private_key(self, sealed: str, private: dict[str, RSAKey]) -> RSAKey:
        """The private key sealed as ``sealed``: the one imported by an earlier load, or
        opened and imported now; recorded in ``private`` (the keys of this load)."""
        key = self._private.get(sealed)
        if key is None:
            key = RSAKey.import_key(self._sealer.open(sealed))
        private[sealed] = key
        return key

    def invalidate(self) -> None:
        self._loaded = None

    async def decryption_keys(self, kid: str | None = None) -> list[RSAKey]:
        """The OP's private keys that clients encrypt request objects to (the active one
        first); with ``kid`` only the key of that id ([] when there is none)."""
        keys = (await self.load()).decryption
        return keys if kid is None else [k for k in keys if k.kid == kid]

    async def newer_decryption_keys(self, tried: Sequence[RSAKey]) -> list[RSAKey]:
        """After a request object opened with none of ``tried``: the keys this process did
        not know (another process may have rotated since this one loaded), reloaded at most
        every :data:`RELOAD_AFTER_MISS_SECONDS` so that undecryptable requests cannot make
        every request a database read."""
        now = time.monotonic()
        if now - self._reloaded_after_miss < RELOAD_AFTER_MISS_SECONDS:
            return []
        self._reloaded_after_miss = now
        known = {k.kid for k in tried}
        return [k for k in (await self.load(force=True)).decryption if k.kid not in known]

    async def jwks(self) -> dict[str, Any]:
        return {"keys": (await self.load()).published}

    async def simulator_jwks(self) -> dict[str, Any]:
        return {"keys": (await self.load()).simulator_published}

    async def sign(self, claims: dict[str, Any], alg: str = "RS256", typ: str = "JWT") -> str:
        keys = await self.load()
        key = keys.signing.get(alg)
        if key is None:
            raise RuntimeError(f"no active {alg} signing key; run `python -m identity seed`")
        header = {"alg": alg, "kid": key.kid, "typ": typ}
        return jwt.encode(header, claims, key, algorithms=[alg])

    async def sign_simulator(self, claims: dict[str, Any]) -> str:
        keys = await self.load()
        if keys.simulator is None:
            raise RuntimeError("no simulator key; run `python -m identity seed`")
        header = {"alg": SIM_ALGORITHM, "kid": keys.simulator.kid, "typ": "JWT"}
        return jwt.encode(header, claims, keys.simulator, algorithms=[SIM_ALGORITHM])

    async def verify_own(self, token: str) -> dict[str, Any]:
        """Verify a token this OP signed with a still-published key (raises ValueError)."""
        keys = await self.load()
        return _verify(token, keys.key_set("op"))


def _publication_order(row: SigningKey) -> tuple[int, float]:
    """Creation order, except that the active encryption key comes before retired ones
    and retired ones newest first."""
    created = aware(row.created_at).timestamp()
    if row.purpose != "encryption":
        return (0, created)
    return (1, 0.0) if row.status == "active" else (2, -created)


def _verify(token: str, key_set: KeySet) -> dict[str, Any]:
    from joserfc.errors import JoseError

    try:
        decoded = jwt.decode(token, key_set, algorithms=list(OP_ALGORITHMS))
    except (JoseError, ValueError, TypeError) as exc:
        raise ValueError("invalid token") from exc
    return dict(decoded.claims)
