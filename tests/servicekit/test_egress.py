"""Requests to URLs that others chose reach public internet addresses only, whatever the
host name resolves to (servicekit.egress)."""

from __future__ import annotations

import socket

import httpcore
import httpx
import pytest

from servicekit.egress import PublicOnlyBackend, PublicOnlyTransport, is_public

ANSWER = (
    b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"keys":[]}'
)


class Recorder(httpcore.AsyncMockBackend):
    """Answers every connection with ANSWER, remembering the host it was asked for."""

    def __init__(self) -> None:
        super().__init__([ANSWER])
        self.hosts: list[str] = []

    async def connect_tcp(self, host: str, port: int, *args: object, **kwargs: object):  # type: ignore[no-untyped-def,override]
        self.hosts.append(host)
        return await super().connect_tcp(host, port)


def resolver(answers: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "unknown name")
        return answers[host]

    return resolve


def client(answers: dict[str, list[str]], inner: httpcore.AsyncNetworkBackend) -> httpx.AsyncClient:
    backend = PublicOnlyBackend(inner=inner, resolver=resolver(answers))
    return httpx.AsyncClient(transport=PublicOnlyTransport(backend=backend))


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),  # noqa: S104 - an address checked, not bound
        ("::1", False),
        ("fd00::1", False),
        ("fe80::1%eth0", False),
        ("::ffff:127.0.0.1", False),
        ("not an address", False),
    ],
)
def test_only_globally_routable_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(address) is public


async def test_a_public_name_is_reached_at_the_address_that_was_checked() -> None:
    inner = Recorder()
    async with client({"keys.example.org": ["93.184.216.34"]}, inner) as http:
        response = await http.get("http://keys.example.org/jwks")
    assert response.status_code == 200
    assert response.json() == {"keys": []}
    # The connection went to the checked address, not to a second lookup of the name.
    assert inner.hosts == ["93.184.216.34"]


@pytest.mark.parametrize(
    "addresses",
    [["169.254.169.254"], ["10.0.0.7"], ["93.184.216.34", "127.0.0.1"], []],
    ids=["metadata", "private", "public-and-loopback", "none"],
)
async def test_a_name_leading_inward_is_refused_before_connecting(addresses: list[str]) -> None:
    inner = Recorder()
    async with client({"keys.example.org": addresses}, inner) as http:
        with pytest.raises(httpx.ConnectError, match="public internet address"):
            await http.get("https://keys.example.org/jwks")
    assert inner.hosts == []


async def test_an_unknown_name_is_a_connect_error() -> None:
    async with client({}, Recorder()) as http:
        with pytest.raises(httpx.ConnectError, match="cannot be resolved"):
            await http.get("https://nowhere.example.org/")


async def test_a_local_server_is_unreachable_through_its_name_and_its_address(
    local_http_server: int,
) -> None:
    async with httpx.AsyncClient() as plain:  # the server is there
        assert (await plain.get(f"http://localhost:{local_http_server}/")).status_code == 200
    async with httpx.AsyncClient(transport=PublicOnlyTransport()) as http:
        for host in ("localhost", "127.0.0.1"):
            with pytest.raises(httpx.ConnectError):
                await http.get(f"http://{host}:{local_http_server}/")
