"""Webhooks: signed deliveries in order, retried with backoff through a receiver outage,
visible delivery status, per-organisation subscriptions."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from registry.config import Settings
from registry.main import webhook_client
from registry.webhooks.backlog import WebhookBacklog, WebhookBacklogCollector
from registry.webhooks.dispatcher import WebhookDispatcher, backoff_seconds
from registry.webhooks.secretbox import (
    SecretBox,
    SecretUnreadable,
    seal_plaintext_rows,
    secret_box,
)
from registry.webhooks.service import check_url
from registry.webhooks.signing import sign, verify
from servicekit.db import Database
from servicekit.errors import BadRequest

Maker = Any
HOOK = "http://receiver.test/hook"


class Receiver:
    def __init__(self) -> None:
        self.down = False
        self.unreachable = False
        self.received: list[httpx.Request] = []
        self.attempts = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        if self.unreachable:
            raise httpx.ConnectError("connection refused", request=request)
        if self.down:
            return httpx.Response(503)
        self.received.append(request)
        return httpx.Response(204)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.received]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def dispatcher(registry_db: Database, receiver: Receiver, clock: Clock) -> Any:
    async with httpx.AsyncClient(transport=httpx.MockTransport(receiver.handler)) as client:
        yield WebhookDispatcher(registry_db, client, max_backoff=60, clock=clock)


async def _subscribe(client: httpx.AsyncClient, tokens: Any, **body: Any) -> dict[str, Any]:
    r = await client.post(
        "/v1/subscriptions", json={"url": HOOK, **body}, headers=tokens.municipality()
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_signed_deliveries_in_order(
    client: httpx.AsyncClient,
    tokens: Any,
    make_facility: Maker,
    dispatcher: Any,
    receiver: Receiver,
) -> None:
    await make_facility(slug="before")  # before the subscription: not pushed
    sub = await _subscribe(client, tokens)
    assert sub["secret"].startswith("whsec_")
    r = await client.get(f"/v1/subscriptions/{sub['id']}", headers=tokens.municipality())
    assert "secret" not in r.json()
    first = await make_facility(slug="one")
    second = await make_facility(slug="two")
    assert await dispatcher.run_once() == 2
    events = receiver.events()
    assert [e["data"]["id"] for e in events] == [first["id"], second["id"]]
    assert events[0]["sequence"] < events[1]["sequence"]
    for request in receiver.received:
        assert request.headers["content-type"] == "application/cloudevents+json"
        assert verify(
            sub["secret"], request.headers["webhook-id"], int(request.headers["webhook-timestamp"]),
            request.content, request.headers["webhook-signature"],
        )  # fmt: skip
        assert not verify("whsec_" + "A" * 44, request.headers["webhook-id"],
                          int(request.headers["webhook-timestamp"]), request.content,
                          request.headers["webhook-signature"])  # fmt: skip
    assert await dispatcher.run_once() == 0  # nothing new
    status = (
        await client.get(f"/v1/subscriptions/{sub['id']}", headers=tokens.municipality())
    ).json()
    assert status["cursor"] == events[-1]["sequence"]
    assert status["failureCount"] == 0
    assert status["lastStatusCode"] == 204


async def test_outage_retries_with_backoff_and_loses_nothing(
    client: httpx.AsyncClient, tokens: Any, make_facility: Maker, dispatcher: Any,
    receiver: Receiver, clock: Clock,
) -> None:  # fmt: skip
    sub = await _subscribe(client, tokens)
    url = f"/v1/subscriptions/{sub['id']}"
    receiver.down = True
    a = await make_facility(slug="aa")
    b = await make_facility(slug="bb")
    assert await dispatcher.run_once() == 1  # stops at the first failure: order is kept
    status = (await client.get(url, headers=tokens.municipality())).json()
    assert status["failureCount"] == 1
    assert status["lastStatusCode"] == 503
    assert status["nextAttemptAt"] is not None
    assert await dispatcher.run_once() == 0  # backing off
    clock.advance(backoff_seconds(1, 60) + 1)
    receiver.down, receiver.unreachable = False, True
    assert await dispatcher.run_once() == 1
    status = (await client.get(url, headers=tokens.municipality())).json()
    assert status["failureCount"] == 2
    assert "ConnectError" in status["lastError"]
    clock.advance(backoff_seconds(2, 60) - 1)
    assert await dispatcher.run_once() == 0
    receiver.unreachable = False
    clock.advance(2)
    assert await dispatcher.run_once() == 2
    assert [e["data"]["id"] for e in receiver.events()] == [a["id"], b["id"]]
    status = (await client.get(url, headers=tokens.municipality())).json()
    assert status["failureCount"] == 0
    assert status["lastError"] is None
    deliveries = (await client.get(f"{url}/deliveries", headers=tokens.municipality())).json()
    attempts = sorted(
        (d["eventSequence"], d["attempt"], d["succeeded"]) for d in deliveries["items"]
    )
    seq_a, seq_b = (e["sequence"] for e in receiver.events())
    assert attempts == [(seq_a, 1, False), (seq_a, 2, False), (seq_a, 3, True), (seq_b, 1, True)]
    assert receiver.attempts == 4


async def test_event_type_filter_and_pause(
    client: httpx.AsyncClient, tokens: Any, make_facility: Maker, make_org: Maker,
    dispatcher: Any, receiver: Receiver,
) -> None:  # fmt: skip
    sub = await _subscribe(client, tokens, eventTypes=["nl.samen.registry.organisation."])
    await make_facility()
    org = await make_org("supplier")
    assert await dispatcher.run_once() == 1
    assert [e["type"] for e in receiver.events()] == ["nl.samen.registry.organisation.created"]
    assert receiver.events()[0]["data"]["id"] == org["id"]
    url = f"/v1/subscriptions/{sub['id']}"
    etag = (await client.get(url, headers=tokens.municipality())).headers["etag"]
    r = await client.patch(
        url, json={"active": False}, headers={**tokens.municipality(), "If-Match": etag}
    )
    assert r.status_code == 200
    await make_org("supplier")
    assert await dispatcher.run_once() == 0
    etag = r.headers["etag"]
    r = await client.patch(
        url, json={"active": True}, headers={**tokens.municipality(), "If-Match": etag}
    )
    assert await dispatcher.run_once() == 1  # nothing lost while paused


async def test_subscriptions_are_private(client: httpx.AsyncClient, tokens: Any) -> None:
    sub = await _subscribe(client, tokens)
    url = f"/v1/subscriptions/{sub['id']}"
    other = tokens.municipality(oin=tokens.AMERSFOORT_OIN)
    assert (await client.get(url, headers=other)).status_code == 404
    assert (await client.delete(url, headers=other)).status_code == 404
    assert (await client.get("/v1/subscriptions", headers=other)).json()["total"] == 0
    assert (await client.get("/v1/subscriptions", headers=tokens.municipality())).json()[
        "total"
    ] == 1
    assert (await client.get("/v1/subscriptions", headers=tokens.operator())).json()["total"] == 1
    # Subscriptions never show up in the public change feed.
    feed = (await client.get("/v1/events", headers=tokens.reader())).json()
    assert all("subscription" not in e["type"] for e in feed["items"])
    r = await client.post("/v1/subscriptions", json={"url": HOOK}, headers=tokens.issuer.headers(
        sub="no-org", scopes=["registry:write"]))  # fmt: skip
    assert r.status_code == 403
    for bad in ("ftp://x.test/h", "http://user:pw@x.test/h", "not a url"):
        r = await client.post("/v1/subscriptions", json={"url": bad}, headers=tokens.municipality())
        assert r.status_code == 400, bad
    r = await client.post("/v1/subscriptions", json={"url": HOOK, "eventTypes": ["other.type"]},
                          headers=tokens.municipality())  # fmt: skip
    assert r.status_code == 400
    assert (await client.delete(url, headers=tokens.municipality())).status_code == 204
    assert (await client.get(url, headers=tokens.municipality())).status_code == 404


def test_https_required_in_production_and_signature_vector() -> None:
    production = Settings(environment="production")
    with pytest.raises(BadRequest):
        check_url("http://receiver.example/hook", production)
    check_url("https://receiver.example/hook", production)
    for internal in ("https://127.0.0.1/h", "https://10.1.2.3/h", "https://[::1]/h", "https://localhost/h",
                     "https://169.254.169.254/latest"):  # fmt: skip
        with pytest.raises(BadRequest):
            check_url(internal, production)
    check_url("http://127.0.0.1:9000/hook", Settings(environment="development"))
    # Standard Webhooks reference vector (standard-webhooks/standard-webhooks, spec tests).
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )
    assert backoff_seconds(1, 3600) == 2
    assert backoff_seconds(20, 3600) == 3600


async def test_two_dispatchers_never_deliver_twice(
    client: httpx.AsyncClient, tokens: Any, make_facility: Maker, registry_db: Database,
    receiver: Receiver, clock: Clock,
) -> None:  # fmt: skip
    """Two service processes (two dispatchers) share the work through the lease; a fresh
    dispatcher (after a restart) continues from the stored cursor."""
    import asyncio

    await _subscribe(client, tokens)
    created = [await make_facility() for _ in range(3)]
    async with httpx.AsyncClient(transport=httpx.MockTransport(receiver.handler)) as http:
        first = WebhookDispatcher(registry_db, http, clock=clock)
        second = WebhookDispatcher(registry_db, http, clock=clock)
        await asyncio.gather(first.run_once(), second.run_once())
        assert [e["data"]["id"] for e in receiver.events()] == [f["id"] for f in created]
        later = await make_facility()
        restarted = WebhookDispatcher(registry_db, http, clock=clock)
        assert await restarted.run_once() == 1
    ids = [e["data"]["id"] for e in receiver.events()]
    assert ids == [f["id"] for f in [*created, later]]
    assert len({r.headers["webhook-id"] for r in receiver.received}) == len(ids)


async def test_signing_secrets_are_encrypted_at_rest(
    client: httpx.AsyncClient,
    tokens: Any,
    make_facility: Maker,
    dispatcher: Any,
    receiver: Receiver,
    registry_db: Database,
) -> None:
    from sqlalchemy import text

    sub = await _subscribe(client, tokens)
    async with registry_db.engine.connect() as conn:
        stored = (
            await conn.execute(
                text("SELECT secret FROM webhook_subscriptions WHERE secret LIKE 'enc1:%'")
            )
        ).scalar_one()
    assert sub["secret"] not in stored
    assert sub["secret"].removeprefix("whsec_") not in stored
    assert secret_box(Settings()).open(stored) == sub["secret"]
    # The dispatcher opens it to sign; a dispatcher with the wrong key refuses to send.
    await make_facility(slug="sealed")
    wrong = SecretBox(Fernet.generate_key().decode())
    stranger = WebhookDispatcher(registry_db, dispatcher.client, clock=dispatcher.clock,
                                 secrets=wrong)  # fmt: skip
    await stranger.run_once()  # one attempt, failed before sending
    assert receiver.received == []
    r = await client.get(f"/v1/subscriptions/{sub['id']}", headers=tokens.municipality())
    assert "signing secret unreadable" in r.json()["lastError"]


def test_secret_box_rotation_and_legacy_rows(tmp_path: Any) -> None:
    from sqlalchemy import create_engine, text

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_old = SecretBox(old).seal("whsec_old")
    rotated = SecretBox(new, previous=[old])
    assert rotated.open(sealed_old) == "whsec_old"  # sealed before the rotation
    with pytest.raises(SecretUnreadable):
        SecretBox(old).open(rotated.seal("whsec_new"))  # new secrets use the new key
    with pytest.raises(SecretUnreadable):
        rotated.open("whsec_in_clear")
    # Migration 0008's step: rows still in clear are sealed, sealed rows are left alone.
    engine = create_engine(f"sqlite:///{tmp_path / 'legacy.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE webhook_subscriptions (id TEXT, secret TEXT)"))
        conn.execute(
            text("INSERT INTO webhook_subscriptions VALUES ('a', 'whsec_a'), ('b', :sealed)"),
            {"sealed": sealed_old},
        )
        assert seal_plaintext_rows(conn, rotated) == 1
        rows = dict(conn.execute(text("SELECT id, secret FROM webhook_subscriptions")).all())
    assert rows["b"] == sealed_old
    assert rows["a"].startswith("enc1:")
    assert rotated.open(rows["a"]) == "whsec_a"
    engine.dispose()


def test_production_refuses_the_development_key() -> None:
    with pytest.raises(RuntimeError, match="REGISTRY_WEBHOOK_SECRET_KEY"):
        Settings(environment="production").check_production()
    key = Fernet.generate_key().decode()
    Settings(
        environment="production", webhook_secret_key=key, auth_client_private_key_jwk="{}"
    ).check_production()
    Settings(environment="development").check_production()


def test_production_refuses_a_revocation_client_without_its_private_key() -> None:
    """Identity refuses client secrets in production: without the private JWK the registry
    could not read the revocation feed, and revoked tokens would go on passing."""
    key = Fernet.generate_key().decode()
    with pytest.raises(RuntimeError, match="samen-registry"):
        Settings(environment="production", webhook_secret_key=key).check_production()


async def test_rotate_webhook_key_reseals_all_or_nothing(
    client: httpx.AsyncClient, tokens: Any, registry_db: Database
) -> None:
    import uuid

    from sqlalchemy import select, update

    from registry.webhooks.models import Subscription
    from registry.webhooks.rotation import reseal_all
    from registry.webhooks.secretbox import DEV_WEBHOOK_SECRET_KEY

    first = await _subscribe(client, tokens)
    second = await _subscribe(client, tokens, eventTypes=["nl.samen.registry.facility.created"])
    new = Fernet.generate_key().decode()
    rotating = SecretBox(new, previous=[DEV_WEBHOOK_SECRET_KEY])

    async def stored() -> dict[str, str]:
        async with registry_db.sessionmaker() as session:
            rows = await session.execute(select(Subscription.id, Subscription.secret))
            return {str(row_id): secret for row_id, secret in rows.all()}

    def key(sub: dict[str, Any]) -> str:
        return str(uuid.UUID(sub["id"]))

    async def set_secret(sub: dict[str, Any], sealed: str) -> None:
        async with registry_db.sessionmaker() as session, session.begin():
            await session.execute(
                update(Subscription)
                .where(Subscription.id == uuid.UUID(sub["id"]))
                .values(secret=sealed)
            )

    # A row that no configured key opens: nothing is re-sealed, not even the good rows.
    await set_secret(second, SecretBox(Fernet.generate_key().decode()).seal("whsec_x"))
    before = await stored()
    with pytest.raises(SecretUnreadable):
        async with registry_db.sessionmaker() as session, session.begin():
            await reseal_all(session, rotating)
    assert await stored() == before

    # Repaired, the rotation re-seals every secret with the new key alone.
    await set_secret(second, secret_box(Settings()).seal(second["secret"]))
    async with registry_db.sessionmaker() as session, session.begin():
        assert await reseal_all(session, rotating) == 2
    after = await stored()
    only_new = SecretBox(new)
    assert only_new.open(after[key(first)]) == first["secret"]
    assert only_new.open(after[key(second)]) == second["secret"]
    with pytest.raises(SecretUnreadable):
        secret_box(Settings()).open(after[key(first)])  # the old key no longer opens it


async def test_malformed_webhook_urls_are_400_never_500(
    client: httpx.AsyncClient, tokens: Any
) -> None:
    bad_urls = (
        "http://a\u0012b", "http://a]", "http://[::1", "http://a b/", " http://a.test/",
        "http://a.test/\u007f", "http://", "http:///path", "https://a..b/", "http://a:99999/",
        "javascript:alert(1)", "http://a.test/" + "x" * 500, "http://h\u00e9.test/",
    )  # fmt: skip
    for bad in bad_urls:
        r = await client.post("/v1/subscriptions", json={"url": bad}, headers=tokens.municipality())
        assert r.status_code == 400, (bad, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert [p["name"] for p in r.json()["invalidParams"]] == ["url"], bad
    sub = await _subscribe(client, tokens)
    url = f"/v1/subscriptions/{sub['id']}"
    etag = (await client.get(url, headers=tokens.municipality())).headers["etag"]
    r = await client.patch(
        url, json={"url": "http://a]"}, headers={**tokens.municipality(), "If-Match": etag}
    )
    assert r.status_code == 400, r.text
    assert (await client.get(url, headers=tokens.municipality())).json()["url"] == HOOK


async def test_urls_with_characters_outside_rfc_3986_are_400_and_change_nothing(
    client: httpx.AsyncClient, tokens: Any, make_facility: Maker
) -> None:
    """The documents say ``format: uri``: a URL with characters a URI cannot hold (found
    by make fuzz: ``https://a.test/_H>E<Le?j>07`` was stored, 201) is a 400 naming the
    field, on a subscription and an offering alike; percent-encoded, it is accepted."""
    bad_urls = (
        "https://a.test/_H>E<Le?j>07", 'https://a.test/"x"', "https://a.test/{x}",
        "https://a.test/a|b", "https://a.test/a\\b", "https://a.test/a^b", "https://a.test/a`b",
        "https://a.test/a[0]", "https://a.test/%zz", "https://a.test/a#b#c",
    )  # fmt: skip
    for bad in bad_urls:
        r = await client.post("/v1/subscriptions", json={"url": bad}, headers=tokens.municipality())
        assert r.status_code == 400, (bad, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert [p["name"] for p in r.json()["invalidParams"]] == ["url"], bad
        assert "percent-encoded" in r.json()["invalidParams"][0]["reason"], bad
    listed = await client.get("/v1/subscriptions", headers=tokens.municipality())
    assert listed.json()["total"] == 0
    sub = await _subscribe(client, tokens)
    url = f"/v1/subscriptions/{sub['id']}"
    etag = (await client.get(url, headers=tokens.municipality())).headers["etag"]
    headers = {**tokens.municipality(), "If-Match": etag}
    r = await client.patch(url, json={"url": bad_urls[0]}, headers=headers)
    assert r.status_code == 400, r.text
    after = await client.get(url, headers=tokens.municipality())
    assert after.json()["url"] == HOOK
    assert after.headers["etag"] == etag
    encoded = "https://a.test/_H%3EE%3CLe?j%3E07#top"
    r = await client.patch(url, json={"url": encoded}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["url"] == encoded

    facility = await make_facility()
    offering = {"facilityId": facility["id"], "name": "Product", "priceModel": "free",
                "productUrl": bad_urls[0]}  # fmt: skip
    r = await client.post("/v1/offerings", json=offering, headers=tokens.supplier())
    assert r.status_code == 400, r.text
    assert [p["name"] for p in r.json()["invalidParams"]] == ["productUrl"]
    assert (await client.get("/v1/offerings", headers=tokens.reader())).json()["total"] == 0


async def test_a_patch_cannot_remove_url_or_active_and_null_event_types_mean_all(
    client: httpx.AsyncClient, tokens: Any
) -> None:
    sub = await _subscribe(client, tokens)
    url = f"/v1/subscriptions/{sub['id']}"
    etag = (await client.get(url, headers=tokens.municipality())).headers["etag"]
    headers = {**tokens.municipality(), "If-Match": etag}
    for field in ("url", "active"):
        r = await client.patch(url, json={field: None}, headers=headers)
        assert r.status_code == 400, r.text
        assert r.json()["detail"] == f"{field} cannot be removed."
        assert r.json()["invalidParams"] == [{"name": field, "reason": "required"}]
    for not_a_boolean in ("yes", 1, "false"):
        r = await client.patch(url, json={"active": not_a_boolean}, headers=headers)
        assert r.status_code == 400, r.text
        assert [p["name"] for p in r.json()["invalidParams"]] == ["active"]
    r = await client.patch(url, json={"eventTypes": None}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["eventTypes"] == []
    assert r.json()["active"] is True


async def test_a_poisoned_subscription_never_stops_the_others(
    client: httpx.AsyncClient, tokens: Any, make_facility: Maker, dispatcher: Any,
    receiver: Receiver, registry_db: Database, clock: Clock,
) -> None:  # fmt: skip
    """Rows the API would refuse, written straight to the table (an older version's data,
    a manual fix): each one's failure is recorded on it, with backoff, and the good
    subscription created after them still receives every event."""
    import uuid

    from sqlalchemy import update

    from registry.webhooks.models import Subscription

    poisoned = {
        "http://a\u0012b": None,  # the HTTP client refuses the URL
        HOOK: [1],  # an event-type list the dispatcher cannot read
    }

    async def stored(sub_ids: list[str]) -> list[Any]:
        async with registry_db.sessionmaker() as session:
            return [await session.get(Subscription, uuid.UUID(i)) for i in sub_ids]

    ids = []
    for url, event_types in poisoned.items():
        sub = await _subscribe(client, tokens)
        values: dict[str, Any] = {"url": url}
        if event_types is not None:
            values["event_types"] = event_types
        async with registry_db.sessionmaker() as session, session.begin():
            await session.execute(
                update(Subscription).where(Subscription.id == uuid.UUID(sub["id"])).values(**values)
            )
        ids.append(sub["id"])
        clock.advance(1)
    good = await _subscribe(client, tokens)
    facility = await make_facility(slug="still-delivered")
    assert await dispatcher.run_once() >= 1
    assert [e["data"]["id"] for e in receiver.events()] == [facility["id"]]
    status = (
        await client.get(f"/v1/subscriptions/{good['id']}", headers=tokens.municipality())
    ).json()
    assert status["failureCount"] == 0
    assert status["lastStatusCode"] == 204
    for row in await stored(ids):  # read from the table: the API refuses to show [1]
        assert row.failure_count == 1, row.url
        assert row.last_error
        assert row.next_attempt_at is not None
    # Backing off: the next round leaves them alone and still serves the good one.
    second = await make_facility(slug="again")
    await dispatcher.run_once()
    assert [e["data"]["id"] for e in receiver.events()] == [facility["id"], second["id"]]
    assert [row.failure_count for row in await stored(ids)] == [1] * len(ids)


# ---------------------------------------------------------------- backlog on /metrics


def gauges(backlog: WebhookBacklog) -> dict[str, float]:
    return {
        family.name: family.samples[0].value
        for family in WebhookBacklogCollector(backlog).collect()
    }


async def test_backlog_grows_with_events_and_clears_on_delivery(
    client: httpx.AsyncClient,
    tokens: Any,
    make_facility: Any,
    dispatcher: Any,
    receiver: Receiver,
    registry_db: Database,
) -> None:
    backlog = WebhookBacklog()
    assert gauges(backlog) == {}  # nothing reported before the first measurement
    await _subscribe(client, tokens, url=HOOK)
    await make_facility(slug="backlog-one")
    await make_facility(slug="backlog-two")
    await backlog.measure(registry_db)
    assert gauges(backlog) == {
        "registry_webhook_backlog_events": 2,
        "registry_webhook_failing_subscriptions": 0,
    }
    receiver.down = True
    await dispatcher.run_once()
    await backlog.measure(registry_db)
    assert gauges(backlog)["registry_webhook_failing_subscriptions"] == 1
    receiver.down = False
    dispatcher.clock.advance(3600)
    await dispatcher.run_once()
    await backlog.measure(registry_db)
    assert gauges(backlog) == {
        "registry_webhook_backlog_events": 0,
        "registry_webhook_failing_subscriptions": 0,
    }


async def test_watch_measures_until_stopped(registry_db: Database) -> None:
    backlog = WebhookBacklog()
    stop = asyncio.Event()
    task = asyncio.create_task(backlog.watch(registry_db, stop, interval=60))
    for _ in range(100):
        if backlog.measured:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert backlog.measured


async def test_usage_events_carry_contract_details_only_to_the_municipality(
    client: httpx.AsyncClient,
    tokens: Any,
    make_org: Maker,
    make_facility: Maker,
    dispatcher: Any,
    receiver: Receiver,
) -> None:
    utrecht = await make_org("municipality", oin=tokens.UTRECHT_OIN)
    await make_org("municipality", oin=tokens.AMERSFOORT_OIN)
    facility = await make_facility()
    amersfoort = tokens.municipality(oin=tokens.AMERSFOORT_OIN, sub="amersfoort-staff")
    for headers in (tokens.municipality(), amersfoort):
        r = await client.post("/v1/subscriptions", json={"url": HOOK, "eventTypes": [
            "nl.samen.registry.usage."]}, headers=headers)  # fmt: skip
        assert r.status_code == 201, r.text
    body = {"municipalityId": utrecht["id"], "facilityId": facility["id"],
            "contractEndDate": "2027-06-30", "annualCost": 1000}  # fmt: skip
    assert (await client.post("/v1/usages", json=body, headers=tokens.municipality())).is_success
    assert await dispatcher.run_once() == 2
    by_detail = sorted(receiver.events(), key=lambda e: e["data"]["contractDetailsShown"])
    hidden, shown = (e["data"] for e in by_detail)
    assert (shown["contractEndDate"], shown["annualCost"]) == ("2027-06-30", 1000)
    assert "contractEndDate" not in hidden
    assert "annualCost" not in hidden
    assert hidden["municipalityId"] == utrecht["id"]


async def test_production_deliveries_reach_public_addresses_only(local_http_server: int) -> None:
    """A subscriber's URL whose name leads inward (here the loopback address itself) is
    never reached from production; other environments deliver to local receivers."""
    url = f"http://127.0.0.1:{local_http_server}/hook"
    async with webhook_client(Settings(environment="development")) as development:
        assert (await development.post(url, content=b"{}")).status_code == 200
    async with webhook_client(Settings(environment="production")) as production:
        with pytest.raises(httpx.ConnectError, match="public internet address"):
            await production.post(url, content=b"{}")
