"""Prometheus metrics of the gateway, per route and per upstream (bounded labels only:
route names from the route table, never raw paths)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class GatewayMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = self._counter(
            "gateway_requests", "Requests answered", "route", "method", "status"
        )
        self.duration = self._histogram(
            "gateway_request_duration_seconds",
            "Time to answer a request (until the response started)",
            "route",
        )
        self.upstream_requests = self._counter(
            "gateway_upstream_requests", "Calls to upstreams", "upstream", "status"
        )
        self.upstream_duration = self._histogram(
            "gateway_upstream_duration_seconds", "Upstream time to response headers", "upstream"
        )
        self.upstream_errors = self._counter(
            "gateway_upstream_errors",
            "Failed upstream calls by kind (connect, timeout, disconnect, circuit_open)",
            "upstream",
            "kind",
        )
        self.upstream_retries = self._counter(
            "gateway_upstream_retries",
            "Repeated attempts after a connect error (idempotent methods only)",
            "upstream",
        )
        self.breaker_state = Gauge(
            "gateway_circuit_breaker_state",
            "Circuit breaker state per upstream: 0 closed, 1 open, 2 half-open",
            ["upstream"],
            registry=self.registry,
        )
        self.rate_limited = self._counter(
            "gateway_rate_limited", "Requests refused with 429", "route"
        )
        self.auth_failures = self._counter(
            "gateway_auth_failures", "Requests refused with 401 or 403", "route", "status"
        )
        # Label children per label values: labels() is not free, and these are per request.
        self._answered: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._called: dict[tuple[str, int], tuple[Any, Any]] = {}

    def answered(self, route: str, method: str, status: int, seconds: float) -> None:
        """A request answered (time until the response started)."""
        key = (route, method, status)
        self._observe(self._answered, key, self.requests, self.duration, route, seconds)

    def upstream_call(self, upstream: str, status: int, seconds: float) -> None:
        """An upstream call that got an answer (time to its response head)."""
        key = (upstream, status)
        self._observe(
            self._called, key, self.upstream_requests, self.upstream_duration, upstream, seconds
        )

    @staticmethod
    def _observe(
        cache: dict[Any, tuple[Any, Any]],
        key: tuple[str | int, ...],
        counter: Counter,
        histogram: Histogram,
        name: str,
        seconds: float,
    ) -> None:
        children = cache.get(key)
        if children is None:
            children = (counter.labels(*map(str, key)), histogram.labels(name))
            cache[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def _counter(self, name: str, documentation: str, *labels: str) -> Counter:
        return Counter(name, documentation, labels, registry=self.registry)

    def _histogram(self, name: str, documentation: str, *labels: str) -> Histogram:
        return Histogram(name, documentation, labels, buckets=BUCKETS, registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
