"""Fault switches for fault tests: 5xx answers, slow answers and bursts of 429s.

Set at start-up (``SandboxConfig.faults`` / ``--fault KEY=VALUE``) or at run time
(``POST /_sandbox/faults``). They apply to requests whose path starts with ``path_prefix``.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass

from .protocol import Response, zoom_error
from .ratelimit import QPS_MESSAGE


@dataclass
class FaultSettings:
    error_rate: float = 0.0  # share of requests answered with error_status (seeded, repeatable)
    error_next: int = 0  # the next N requests answer error_status
    error_status: int = 500
    delay: float = 0.0  # seconds added before answering
    delay_next: int = 0  # if > 0, only the next N requests are delayed
    burst_429_next: int = 0  # the next N requests answer a per-second 429 (Zoom's shape)
    path_prefix: str = "/v2/"
    seed: int = 0


class Faults:
    def __init__(self, settings: dict | None = None):
        self.lock = threading.Lock()
        self.settings = FaultSettings()
        self.random = random.Random(0)  # noqa: S311 - fault injection, not security
        self.injected = {"errors": 0, "delays": 0, "bursts_429": 0}
        self.update(settings or {})

    def update(self, changes: dict) -> dict:
        with self.lock:
            current = asdict(self.settings)
            unknown = set(changes) - set(current)
            if unknown:
                raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
            for key, value in changes.items():
                current[key] = type(current[key])(value)
            self.settings = FaultSettings(**current)
            if "seed" in changes:
                self.random.seed(self.settings.seed)
            return asdict(self.settings)

    def clear(self) -> dict:
        with self.lock:
            self.settings = FaultSettings()
        return asdict(self.settings)

    def public(self) -> dict:
        return {**asdict(self.settings), "injected": dict(self.injected)}

    def apply(self, path: str, category: str | None) -> tuple[float, Response | None]:
        """(seconds to sleep first, an injected answer or None) for one request."""
        with self.lock:
            s = self.settings
            if not path.startswith(s.path_prefix):
                return 0.0, None
            delay = 0.0
            if s.delay > 0:
                delay = s.delay
                self.injected["delays"] += 1
                if s.delay_next > 0:
                    s.delay_next -= 1
                    if s.delay_next == 0:
                        s.delay = 0.0
            if s.burst_429_next > 0:
                s.burst_429_next -= 1
                self.injected["bursts_429"] += 1
                headers = {"X-RateLimit-Category": category or "Light", "X-RateLimit-Type": "QPS",
                           "X-RateLimit-Limit": "1", "X-RateLimit-Remaining": "0"}
                return delay, zoom_error(429, 429, QPS_MESSAGE, headers)
            if s.error_next > 0 or (s.error_rate and self.random.random() < s.error_rate):
                s.error_next = max(0, s.error_next - 1)
                self.injected["errors"] += 1
                return delay, zoom_error(s.error_status, s.error_status,
                                         "Internal Error (injected by the sandbox).")
            return delay, None
