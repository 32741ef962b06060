"""Prometheus metrics of the gateway, per route and per upstream (bounded labels only:
route names from the route table, never raw paths)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class GatewayMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "gateway_requests", "Requests answered", ["route", "method", "status"], registry=r
        )
        self.duration = Histogram(
            "gateway_request_duration_seconds",
            "Time to answer a request (until the response started)",
            ["route"],
            buckets=BUCKETS,
            registry=r,
        )
        self.upstream_requests = Counter(
            "gateway_upstream_requests",
            "Calls to upstreams",
            ["upstream", "status"],
            registry=r,
        )
        self.upstream_duration = Histogram(
            "gateway_upstream_duration_seconds",
            "Upstream time to response headers (to the whole response when its body is "
            "at most 64 KiB)",
            ["upstream"],
            buckets=BUCKETS,
            registry=r,
        )
        self.upstream_errors = Counter(
            "gateway_upstream_errors",
            "Failed upstream calls by kind (connect, timeout, disconnect, circuit_open)",
            ["upstream", "kind"],
            registry=r,
        )
        self.upstream_retries = Counter(
            "gateway_upstream_retries",
            "Repeated attempts after a connect error (idempotent methods only)",
            ["upstream"],
            registry=r,
        )
        self.breaker_state = Gauge(
            "gateway_circuit_breaker_state",
            "Circuit breaker state per upstream: 0 closed, 1 open, 2 half-open",
            ["upstream"],
            registry=r,
        )
        self.rate_limited = Counter(
            "gateway_rate_limited", "Requests refused with 429", ["route"], registry=r
        )
        self.auth_failures = Counter(
            "gateway_auth_failures",
            "Requests refused with 401 or 403",
            ["route", "status"],
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
