"""The sandbox's wall clock, which tests may move forward.

Expiry (codes, tokens, page tokens), the data delay and the daily rate-limit reset read this
clock, so a test can "wait" 15 minutes with ``POST /_sandbox/clock {"advance": 900}``. Per-second
rate limiting uses the real monotonic clock.
"""

import threading
import time


class Clock:
    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._offset += seconds
            return self._offset

    @property
    def offset(self) -> float:
        return self._offset
