"""Spans whose callers know their parent as a W3C ``traceparent`` rather than as the
current context (every service's server span, the gateway's spans): started through the
OpenTelemetry API's ``Tracer.start_span`` and ended by the caller."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator


class SpanRecorder:
    """Starts spans of one tracer as children of an explicit parent span context."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer

    def start(
        self, name: str, parent: SpanContext | None, kind: SpanKind, attributes: dict[str, Any]
    ) -> trace.Span:
        """A started span; ``parent`` is a span context or None (a new trace)."""
        outer = None
        if parent is not None and parent.is_valid:
            outer = trace.set_span_in_context(NonRecordingSpan(parent))
        return self.tracer.start_span(name, outer, kind, attributes or None, record_exception=False)


_W3C = TraceContextTextMapPropagator()


def parent_span_context(traceparent: bytes | None, tracestate: bytes | None) -> SpanContext | None:
    """The caller's span context from W3C ``traceparent``/``tracestate``, if valid."""
    if traceparent is None:
        return None
    carrier = {"traceparent": traceparent.decode("latin-1")}
    if tracestate is not None:
        carrier["tracestate"] = tracestate.decode("latin-1")
    parent = trace.get_current_span(_W3C.extract(carrier)).get_span_context()
    return parent if parent.is_valid else None
