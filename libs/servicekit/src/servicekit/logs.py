"""Structured JSON logs with trace and request ids, and BSN masking.

A BSN (burgerservicenummer) must never reach a log line. The :class:`BsnMaskingFilter`
masks the message, its arguments, every extra (text, numbers, mappings, sequences, any
other object by its text), the request id and the exception's text and traceback before
any handler formats or ships the record; :class:`JsonFormatter` masks every value it writes
once more, so a record that skipped the filter still leaks nothing. What counts as a BSN:
:mod:`servicekit.masking`.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

from .masking import BSN_MASK, mask_bsns, masked_value

__all__ = [
    "BSN_MASK",
    "BsnMaskingFilter",
    "ContextFilter",
    "JsonFormatter",
    "configure_logging",
    "mask_bsns",
    "request_id_var",
]

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)


class BsnMaskingFilter(logging.Filter):
    """Masks BSNs in everything of a log record a handler may write."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not break logging
            message = str(record.msg)
        record.msg = mask_bsns(message)
        record.args = None
        for key, value in list(record.__dict__.items()):
            if key not in _RECORD_ATTRS:
                setattr(record, key, masked_value(value))
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_bsns(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_bsns(record.stack_info)
        return True


class ContextFilter(logging.Filter):
    """Adds ``trace_id``, ``span_id`` and ``request_id`` to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = trace.get_current_span().get_span_context()
        record.trace_id = format(ctx.trace_id, "032x") if ctx.is_valid else None
        record.span_id = format(ctx.span_id, "016x") if ctx.is_valid else None
        record.request_id = request_id_var.get()
        return True


# What logging itself sets on a record, and the ids made by the service (random, never
# masked). Everything else, the request id a caller chose included, is masked.
_RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "trace_id",
    "span_id",
}
# Written by the formatter in fixed places (or, uvicorn's colourful copy, never).
_STANDARD_ATTRS = _RECORD_ATTRS | {"request_id", "service", "color_message"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "service": self.service,
            "message": mask_bsns(record.getMessage()),
        }
        for key in ("trace_id", "span_id"):
            value = getattr(record, key, None)
            if value:
                entry[key] = value
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = masked_value(request_id)
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = masked_value(value)
        if record.exc_text:
            entry["exception"] = mask_bsns(record.exc_text)
        elif record.exc_info:
            entry["exception"] = mask_bsns(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = mask_bsns(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


class ServiceLogHandler(logging.StreamHandler):
    """servicekit's handler: configuring logging again replaces it instead of adding one."""


def configure_logging(service: str, level: str = "INFO", json_logs: bool = True) -> None:
    """Route all logging through one stderr handler with masking and context."""
    handler = ServiceLogHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    handler.addFilter(BsnMaskingFilter())
    if json_logs:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    root = logging.getLogger()
    for existing in list(root.handlers):
        if isinstance(existing, ServiceLogHandler):
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn's own handlers would print unmasked lines; send them through ours.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # httpx logs every request at INFO: the revocation feed's poll would add a line every
    # few seconds; failures are logged by the caller.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        log = logging.getLogger(name)
        log.handlers = []
        log.propagate = True
    # No per-request access lines: they cost more than the request on the hot path, and
    # traces plus metrics already record every request.
    access = logging.getLogger("uvicorn.access")
    access.handlers = []
    access.propagate = False
