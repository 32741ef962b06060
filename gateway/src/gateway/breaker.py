"""Circuit breaker per upstream: closed → open after N consecutive failures → half-open
after a pause (one probe at a time) → closed on the probe's success, open again on its
failure. While open, calls are refused at once (503 + Retry-After) instead of piling up
on a service that is down.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from enum import IntEnum


class State(IntEnum):
    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int = 5,
        open_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[State], None] | None = None,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.open_seconds = open_seconds
        self._clock = clock
        self._on_change = on_change
        self.state = State.CLOSED
        self.failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False

    def _set(self, state: State) -> None:
        if state != self.state:
            self.state = state
            if self._on_change:
                self._on_change(state)

    def allow(self) -> bool:
        """May a call go out now? In half-open state only one probe at a time."""
        if self.state == State.CLOSED:
            return True
        if self.state == State.OPEN:
            if self._clock() - self._opened_at < self.open_seconds:
                return False
            self._set(State.HALF_OPEN)
        if self._probe_in_flight:
            return False
        self._probe_in_flight = True
        return True

    def retry_after(self) -> int:
        left = self.open_seconds - (self._clock() - self._opened_at)
        return max(1, math.ceil(left))

    def success(self) -> None:
        self.failures = 0
        self._probe_in_flight = False
        self._set(State.CLOSED)

    def failure(self) -> None:
        self._probe_in_flight = False
        self.failures += 1
        if self.state == State.HALF_OPEN or self.failures >= self.failure_threshold:
            self._opened_at = self._clock()
            self._set(State.OPEN)

    def release(self) -> None:
        """A call ended without telling anything about the upstream's health
        (e.g. the client went away); let the next probe through."""
        self._probe_in_flight = False
