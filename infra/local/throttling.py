"""API Gateway's request limits: token buckets for rate and burst, and a usage plan's daily quota."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from infra.settings import Throttle


class TokenBucket:
    """Holds up to ``burst`` requests and refills at ``rate_per_second``, as API Gateway throttles."""

    def __init__(self, throttle: Throttle, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = throttle.rate_per_second
        self._burst = throttle.burst
        self._clock = clock
        self._tokens = float(throttle.burst)
        self._updated = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Spends one token; False when the bucket is empty (the request gets a 429)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


class DailyQuota:
    """Requests per UTC day, as a usage plan's quota with period DAY counts them."""

    def __init__(self, limit: int, today: Callable[[], str] | None = None) -> None:
        self._limit = limit
        self._today = today or (lambda: datetime.now(UTC).date().isoformat())
        self._day = ""
        self._used = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            day = self._today()
            if day != self._day:
                self._day, self._used = day, 0
            if self._used >= self._limit:
                return False
            self._used += 1
            return True
