"""Outgoing requests to URLs that others chose (a client's jwks_uri, a webhook's URL):
connections to public internet addresses only.

Checking a URL's host name when it is registered is not enough: the name may resolve to
``127.0.0.1``, ``169.254.169.254`` (cloud metadata) or a cluster address, at registration
or only later (DNS rebinding). So the check is made where the connection is opened: the
name is resolved, every address must be globally routable (``ipaddress.is_global``), and
the connection goes to an address that was checked, never to a fresh lookup of the name.
TLS still verifies the certificate against the host name (httpcore passes it as SNI).

Built on the public extension points of httpx (a transport) and httpcore (a network
backend); a proxy in between would be refused too (its address is internal): these
requests go out directly.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import anyio
import httpcore
import httpx

Resolver = Callable[[str, int], Awaitable[list[str]]]


async def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to for a TCP connection."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_global
    except ValueError:
        return False


class PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections only to globally routable addresses: a host name is
    resolved once, refused if any of its addresses is not public (a name that answers both
    is as unsafe as one that answers only the internal one), and the connection is made to
    one of the checked addresses."""

    def __init__(
        self, inner: httpcore.AsyncNetworkBackend | None = None, resolver: Resolver = resolve
    ) -> None:
        self.inner = inner or httpcore.AnyIOBackend()
        self.resolver = resolver

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await self.resolver(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} took too long") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"{host} cannot be resolved: {exc}") from None
        if not addresses or not all(is_public(a) for a in addresses):
            raise httpcore.ConnectError(f"{host} does not lead to a public internet address")
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # addresses is not empty
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("no local sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def _httpx_error(exc: httpcore.NetworkError | httpcore.TimeoutException | Exception) -> type:
    # httpx names its transport errors as httpcore does (ConnectError, ReadTimeout, …).
    found = getattr(httpx, type(exc).__name__, None)
    return (
        found
        if isinstance(found, type) and issubclass(found, httpx.TransportError)
        else (httpx.TransportError)
    )


class _Body(httpx.AsyncByteStream):
    def __init__(self, stream: Any, request: httpx.Request) -> None:
        self.stream = stream
        self.request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self.stream:
                yield part
        except httpcore.TimeoutException as exc:
            raise _httpx_error(exc)(str(exc), request=self.request) from exc
        except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
            raise _httpx_error(exc)(str(exc), request=self.request) from exc

    async def aclose(self) -> None:
        await self.stream.aclose()


class PublicOnlyTransport(httpx.AsyncBaseTransport):
    """An httpx transport whose connections reach public internet addresses only
    (:class:`PublicOnlyBackend`); a refused address is an ``httpx.ConnectError``."""

    def __init__(
        self,
        backend: httpcore.AsyncNetworkBackend | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 20,
    ) -> None:
        self.pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=backend or PublicOnlyBackend(),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response = await self.pool.handle_async_request(core_request)
        except (
            httpcore.TimeoutException,
            httpcore.NetworkError,
            httpcore.ProtocolError,
            httpcore.UnsupportedProtocol,
        ) as exc:
            raise _httpx_error(exc)(str(exc), request=request) from exc
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response.stream, request),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.pool.aclose()
