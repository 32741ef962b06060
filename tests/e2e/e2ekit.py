"""Helpers for the end-to-end suite: the platform started like `make run`, an in-process
OTLP/HTTP receiver, and a browser-less OIDC login through the gateway.

Imported by tests/e2e/conftest.py and the test modules (the folder is put on sys.path;
the module name is unique so it cannot shadow another part's helpers).
"""

from __future__ import annotations

import base64
import html as htmllib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from stdnum.nl import bsn as stdnum_bsn

ROOT = Path(__file__).resolve().parents[2]
PARTS = ("identity", "registry", "procurement", "portal", "gateway")

LOA_LOW = "http://eidas.europa.eu/LoA/low"
LOA_SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"
EH2 = "urn:etoegang:core:assurance-class:loa2"
EH3 = "urn:etoegang:core:assurance-class:loa3"
DIGID_SUBSTANTIAL = "urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- OTLP receiver


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: int
    attributes: dict[str, Any]


def _any_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    raw = getattr(value, kind)
    if kind == "array_value":
        return [_any_value(v) for v in raw.values]
    if kind == "kvlist_value":
        return {kv.key: _any_value(kv.value) for kv in raw.values}
    return raw


class OtlpReceiver:
    """A tiny OTLP/HTTP (protobuf) trace collector on a free port.

    Every process of the platform exports to it (``OTEL_EXPORTER_OTLP_ENDPOINT``), so a
    test can check that one trace id spans the gateway, a service and its database, and
    scan everything that was exported for BSNs.
    """

    def __init__(self, record: Path) -> None:
        # Spans are also appended to a file, so a developer can attach the suite to a
        # running platform (see ``main`` below) and the BSN scan sees every export.
        self.record = record
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status = 200
                try:
                    receiver.accept(body)
                except Exception:  # a malformed export is the exporter's bug, not ours
                    status = 400
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return  # keep the test output clean

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def accept(self, body: bytes) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        received = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _any_value(a.value) for a in resource_spans.resource.attributes}
            service = str(resource.get("service.name", "?"))
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            service=service,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            name=span.name,
                            kind=int(span.kind),
                            attributes={a.key: _any_value(a.value) for a in span.attributes},
                        )
                    )
        lines = "".join(json.dumps(asdict(span)) + "\n" for span in received)
        with self.lock, self.record.open("a", encoding="utf-8") as out:
            out.write(lines)
        with self.lock, self.record.with_suffix(".bin").open("ab") as raw:
            raw.write(body)


def read_spans(record: Path) -> list[ReceivedSpan]:
    if not record.exists():
        return []
    return [
        ReceivedSpan(**json.loads(line))
        for line in record.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def is_db_span(span: ReceivedSpan) -> bool:
    return "db.system" in span.attributes or "db.system.name" in span.attributes


def new_traceparent() -> tuple[str, str]:
    trace_id = uuid.uuid4().hex
    return trace_id, f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"


# --------------------------------------------------------------------------- BSN scan

# Nine digits standing alone: not part of a longer number or of a hex id (trace ids,
# span ids and UUIDs are full of digit runs that would pass the 11-check by chance).
NINE_DIGITS = re.compile(rb"(?<![0-9A-Za-z])[0-9]{9}(?![0-9A-Za-z])")


def find_bsns(data: bytes) -> set[str]:
    """Every stand-alone 9-digit number that passes the BSN 11-check."""
    found = set()
    for match in NINE_DIGITS.finditer(data):
        number = match.group().decode()
        if stdnum_bsn.is_valid(number):
            found.add(number)
    return found


# --------------------------------------------------------------------------- the platform


@dataclass
class Platform:
    """The five processes started by scripts/run.py on free ports."""

    ports: dict[str, int]
    folder: Path  # data/, platform.log, spans.jsonl, spans.bin
    process: subprocess.Popen[bytes] | None = None
    otlp: OtlpReceiver | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def url_of(self, part: str) -> str:
        return f"http://127.0.0.1:{self.ports[part]}"

    @property
    def log_path(self) -> Path:
        return self.folder / "platform.log"

    @property
    def span_record(self) -> Path:
        return self.folder / "spans.jsonl"

    def log_bytes(self) -> bytes:
        return self.log_path.read_bytes() if self.log_path.exists() else b""

    def exported_bytes(self) -> bytes:
        raw = self.span_record.with_suffix(".bin")
        return raw.read_bytes() if raw.exists() else b""

    def log_tail(self, n: int = 4000) -> str:
        return self.log_bytes()[-n:].decode(errors="replace")

    def spans(self, trace_id: str) -> list[ReceivedSpan]:
        return [s for s in read_spans(self.span_record) if s.trace_id == trace_id]

    def wait_for_trace(
        self, trace_id: str, services: set[str], timeout: float = 20.0
    ) -> list[ReceivedSpan]:
        """The spans of one trace, once every named service has exported a database span
        in it (the gateway: any span) and every server span's parent has arrived too.
        Batch exporters flush on their own schedule: a service's server span can come
        before the caller's client span it hangs under."""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans(trace_id)
            complete = services <= traced_services(spans) and parents_arrived(spans)
            if complete or time.monotonic() > deadline:
                return spans
            time.sleep(0.2)


def parents_arrived(spans: list[ReceivedSpan]) -> bool:
    """Every server span of a service (not the gateway, whose parent is the caller's) has
    its parent span in the trace."""
    ids = {s.span_id for s in spans}
    return all(
        s.parent_id in ids for s in spans if s.kind == 2 and s.service != "gateway" and s.parent_id
    )


def traced_services(spans: list[ReceivedSpan]) -> set[str]:
    """Services that took part in a trace: the gateway by any span, a service by a
    database span (so the trace spans gateway → service → database)."""
    return {s.service for s in spans if s.service == "gateway" or is_db_span(s)}


def platform_env(
    ports: dict[str, int],
    data_dir: Path,
    otlp_endpoint: str,
    database_urls: dict[str, str],
    settings: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment for scripts/run.py: every part points at the others' free ports;
    ``settings`` (such as ``GATEWAY_RATE_LIMIT_PER_SECOND``) come on top."""
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    identity = f"http://127.0.0.1:{ports['identity']}"
    # Start from a clean slate: no settings leaking in from the developer's shell.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("IDENTITY_", "REGISTRY_", "PROCUREMENT_", "PORTAL_", "GATEWAY_", "OTEL_")
        )
    }
    env["SAMEN_DATA_DIR"] = str(data_dir)
    for part in PARTS:
        prefix = part.upper()
        env[f"{prefix}_PORT"] = str(ports[part])
        env[f"{prefix}_ENVIRONMENT"] = "development"
        env[f"{prefix}_PUBLIC_URL"] = gateway
        env[f"{prefix}_AUTH_ISSUER"] = gateway
        env[f"{prefix}_AUTH_JWKS_URL"] = f"{identity}/auth/jwks"
        env[f"{prefix}_LOG_LEVEL"] = "INFO"
        if part in database_urls:
            env[f"{prefix}_DATABASE_URL"] = database_urls[part]
    env["IDENTITY_ISSUER"] = gateway
    for part in ("identity", "registry", "procurement", "portal"):
        env[f"GATEWAY_{part.upper()}_URL"] = f"http://127.0.0.1:{ports[part]}"
    # The portal calls the APIs (and identity's token endpoint) through the gateway.
    env["PORTAL_GATEWAY_URL"] = gateway
    env["PROCUREMENT_REGISTRY_URL"] = f"http://127.0.0.1:{ports['registry']}"
    env["PROCUREMENT_TOKEN_URL"] = f"{identity}/auth/token"
    # identity's development seed registers procurement's machine client under this id
    # (procurement's own defaults name it "procurement": see the e2e README note).
    env["PROCUREMENT_CLIENT_ID"] = "samen-procurement"
    env["PROCUREMENT_CLIENT_SECRET"] = "samen-procurement-dev-secret"
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp_endpoint
    env["OTEL_BSP_SCHEDULE_DELAY"] = "200"  # flush spans quickly (default 5 s)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONWARNINGS"] = "ignore"
    env.update(settings or {})
    return env


def wait_ready(platform: Platform, timeout: float) -> str | None:
    """None when the gateway reports itself and every upstream up, else why not."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        code = platform.process.poll() if platform.process else None
        if code is not None:
            return f"scripts/run.py exited with code {code}"
        try:
            ready = f"{platform.url}/health/details"  # the gateway and every upstream
            with urllib.request.urlopen(ready, timeout=2) as response:  # noqa: S310 (http)
                body = json.load(response)
                if body.get("status") == "pass":
                    return None
                last = json.dumps(body)
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except (OSError, ValueError) as exc:
            last = type(exc).__name__
        time.sleep(0.3)
    return f"the gateway was not ready after {timeout:.0f} s ({last})"


def start_platform(
    folder: Path,
    database_urls: dict[str, str],
    ready_timeout: float = 300.0,
    settings: dict[str, str] | None = None,
) -> tuple[Platform, str | None]:
    folder.mkdir(parents=True, exist_ok=True)
    ports = {part: free_port() for part in PARTS}
    otlp = OtlpReceiver(folder / "spans.jsonl")
    otlp.start()
    env = platform_env(ports, folder / "data", otlp.endpoint, database_urls, settings)
    with (folder / "platform.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "run.py")],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # our SIGINT reaches run.py only; it stops its children
        )
    platform = Platform(ports, folder, process, otlp, env)
    (folder / "platform.json").write_text(json.dumps({"ports": ports}))
    try:
        return platform, wait_ready(platform, ready_timeout)
    except BaseException:  # e.g. pytest-timeout or Ctrl-C while waiting: leave no orphans
        stop_platform(platform)
        raise


def attach_platform(folder: Path) -> Platform:
    """A platform another process started (``python tests/e2e/e2ekit.py FOLDER``)."""
    ports = json.loads((folder / "platform.json").read_text())["ports"]
    return Platform({k: int(v) for k, v in ports.items()}, folder)


def stop_platform(platform: Platform) -> None:
    if platform.process is not None and platform.process.poll() is None:
        platform.process.send_signal(signal.SIGINT)
        try:
            platform.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(platform.process.pid, signal.SIGKILL)
            platform.process.wait(timeout=10)
    if platform.otlp is not None:
        platform.otlp.stop()


# --------------------------------------------------------------------------- OIDC, browser-less

HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def hidden_fields(page: str) -> dict[str, str]:
    return {k: htmllib.unescape(v) for k, v in HIDDEN.findall(page)}


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def path_of(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + ("?" + parts.query if parts.query else "")


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def decode_unverified(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload))
    return data


@dataclass
class Rp:
    """A relying party registered at identity (client_secret_basic: development setup)."""

    client_id: str
    secret: str
    redirect_uri: str


class Browser:
    """A person's browser talking to the gateway only: it follows the OP's redirects and
    submits the login page's and the simulator's forms."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=30)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def authorize(
        self, rp: Rp, means: str, identity: str, level: str, scope: str, **extra: str
    ) -> tuple[dict[str, str], str]:
        """Authorize → login page → simulator → back at the RP: (the RP's query, the
        PKCE verifier)."""
        verifier = uuid.uuid4().hex + uuid.uuid4().hex
        params = {
            "response_type": "code",
            "client_id": rp.client_id,
            "redirect_uri": rp.redirect_uri,
            "scope": scope,
            "state": uuid.uuid4().hex,
            "nonce": uuid.uuid4().hex,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
            **extra,
        }
        response = await self.http.get("/auth/authorize?" + urlencode(params))
        assert response.status_code == 303, response.text
        location = response.headers["location"]
        if not location.startswith(rp.redirect_uri):
            page = await self.http.get(path_of(location))
            assert page.status_code == 200, page.text
            chosen = await self.http.post(
                "/auth/login", data={**hidden_fields(page.text), "means": means}
            )
            assert chosen.status_code == 303, chosen.text
            page = await self.http.get(path_of(chosen.headers["location"]))
            assert page.status_code == 200, page.text
            back = await self.http.post(
                f"/auth/simulators/{means}/authorize",
                data={
                    **hidden_fields(page.text),
                    "identity": identity,
                    "level": level,
                    "action": "login",
                },
            )
            assert back.status_code == 303, back.text
            final = await self.http.get(path_of(back.headers["location"]))
            assert final.status_code == 303, final.text
            location = final.headers["location"]
        assert location.startswith(rp.redirect_uri), location
        result = query_of(location)
        assert result.get("state") == params["state"]
        assert "code" in result, location
        return result, verifier

    async def redeem(self, rp: Rp, code: str, verifier: str) -> httpx.Response:
        return await self.http.post(
            "/auth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": rp.redirect_uri,
                "code_verifier": verifier,
            },
            headers={"Authorization": basic_auth(rp.client_id, rp.secret)},
        )

    async def login(
        self,
        rp: Rp,
        means: str,
        identity: str,
        level: str,
        scope: str,
        **extra: str,
    ) -> dict[str, Any]:
        """The whole code flow with PKCE; returns the token response."""
        result, verifier = await self.authorize(rp, means, identity, level, scope, **extra)
        token = await self.redeem(rp, result["code"], verifier)
        assert token.status_code == 200, token.text
        body: dict[str, Any] = token.json()
        return body


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def main() -> None:
    """Developer aid: start the platform in FOLDER and keep it running (Ctrl-C stops it);
    then ``SAMEN_E2E_ATTACH=FOLDER pytest tests/e2e`` runs the suite against it."""
    folder = Path(sys.argv[1]).resolve()

    def interrupt(*_args: object) -> None:
        raise KeyboardInterrupt

    # Explicitly: a shell starts background jobs with SIGINT ignored.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    platform, problem = start_platform(folder, {})
    if problem:
        stop_platform(platform)
        raise SystemExit(f"{problem}\n{platform.log_tail()}")
    print(f"platform ready at {platform.url}; SAMEN_E2E_ATTACH={folder}", flush=True)
    try:
        assert platform.process is not None
        platform.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop_platform(platform)


if __name__ == "__main__":
    main()
