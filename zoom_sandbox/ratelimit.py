"""Zoom's rate limits: per account, per category, per second and per day.

Owns the plan presets, the 429 answers and headers, and the counters a test reads to prove a
client stayed under the limit: calls, rejections and the most calls seen in any one second.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field

from .clock import Clock
from .protocol import Response, zoom_error
from .world import iso

LIGHT, MEDIUM, HEAVY, INTENSIVE = "Light", "Medium", "Heavy", "Resource-intensive"
CATEGORIES = (LIGHT, MEDIUM, HEAVY, INTENSIVE)
COMBINED = "Heavy+Resource-intensive"  # one daily cap for both

# Zoom's rate-limit table (developers.zoom.us/docs/api/rest/rate-limits/): "rate" calls per
# "window" seconds (Resource-intensive is per minute); None = no cap.
PRESETS: dict[str, dict[str, dict]] = {
    "free": {
        LIGHT: {"rate": 4, "window": 1, "per_day": 6000},
        MEDIUM: {"rate": 2, "window": 1, "per_day": 2000},
        HEAVY: {"rate": 1, "window": 1, "per_day": 1000},
        INTENSIVE: {"rate": 10, "window": 60, "per_day": 30000},
        COMBINED: {"per_day": None},
    },
    "pro": {
        LIGHT: {"rate": 30, "window": 1, "per_day": None},
        MEDIUM: {"rate": 20, "window": 1, "per_day": None},
        HEAVY: {"rate": 10, "window": 1, "per_day": None},
        INTENSIVE: {"rate": 10, "window": 60, "per_day": None},
        COMBINED: {"per_day": 30000},
    },
    "business": {
        LIGHT: {"rate": 80, "window": 1, "per_day": None},
        MEDIUM: {"rate": 60, "window": 1, "per_day": None},
        HEAVY: {"rate": 40, "window": 1, "per_day": None},
        INTENSIVE: {"rate": 20, "window": 60, "per_day": None},
        COMBINED: {"per_day": 60000},
    },
}

QPS_MESSAGE = "You have reached the maximum per-second rate limit for this API. Try again later."
DAILY_MESSAGE = ("You have reached the maximum daily rate limit for this API. Refer to the "
                 "response header for details on when you can make another request.")


def limits_for(plan: str, overrides: dict[str, dict] | None = None) -> dict[str, dict]:
    """The plan preset with overrides such as ``{"Heavy": {"per_second": 2, "per_day": 10}}``."""
    limits = {k: dict(v) for k, v in PRESETS.get(plan, PRESETS["business"]).items()}
    for category, values in (overrides or {}).items():
        if category not in limits:
            raise ValueError(f"unknown rate-limit category {category!r}")
        entry = limits[category]
        if "per_second" in values:
            entry.update(rate=values["per_second"], window=1)
        if "per_minute" in values:
            entry.update(rate=values["per_minute"], window=60)
        if "per_day" in values:
            entry["per_day"] = values["per_day"]
    return limits


@dataclass
class Counters:
    calls: int = 0
    accepted: int = 0
    rejected_qps: int = 0
    rejected_daily: int = 0
    max_per_second: int = 0  # most calls that arrived within any 1-second window
    max_accepted_per_second: int = 0
    arrivals: deque = field(default_factory=deque)
    admitted: deque = field(default_factory=deque)

    def public(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if not isinstance(v, deque)}


class RateLimiter:
    def __init__(self, clock: Clock, *, qps_retry_after: bool = False):
        self.clock = clock
        self.qps_retry_after = qps_retry_after
        self.lock = threading.Lock()
        self.counters: dict[tuple[str, str], Counters] = defaultdict(Counters)
        self.daily: dict[tuple[str, str, str], int] = defaultdict(int)
        self.windows: dict[tuple[str, str], deque] = defaultdict(deque)

    def observe(self, account_id: str, category: str) -> None:
        """Counts an arrival, before faults or limits decide the answer."""
        with self.lock:
            counters = self.counters[(account_id, category)]
            counters.calls += 1
            counters.max_per_second = _slide(counters.arrivals, time.monotonic(),
                                             counters.max_per_second)

    def admit(self, account_id: str, category: str, limits: dict[str, dict]
              ) -> tuple[Response | None, dict[str, str]]:
        """(a 429 answer or None, headers for a successful answer)."""
        now_mono, day = time.monotonic(), _day(self.clock.now())
        limit = limits[category]
        headers = {"X-RateLimit-Category": category}
        with self.lock:
            counters = self.counters[(account_id, category)]
            # Daily first: its own cap, and for Heavy/Resource-intensive the shared one.
            caps = [(category, limit.get("per_day"))]
            if category in (HEAVY, INTENSIVE):
                caps.append((COMBINED, limits[COMBINED].get("per_day")))
            for key, cap in caps:
                if cap is not None and self.daily[(account_id, key, day)] >= cap:
                    counters.rejected_daily += 1
                    return zoom_error(429, 429, DAILY_MESSAGE, {
                        **headers, "X-RateLimit-Type": "Daily-limit",
                        "X-RateLimit-Limit": str(cap), "X-RateLimit-Remaining": "0",
                        # Zoom sends an ISO-8601 date-time (next 00:00 UTC), not seconds.
                        "Retry-After": _next_midnight(self.clock.now()),
                    }), {}
            window = self.windows[(account_id, category)]
            while window and now_mono - window[0] >= limit["window"]:
                window.popleft()
            if len(window) >= limit["rate"]:
                counters.rejected_qps += 1
                extra = {"Retry-After": str(limit["window"])} if self.qps_retry_after else {}
                return zoom_error(429, 429, QPS_MESSAGE, {
                    **headers, "X-RateLimit-Type": "QPS",
                    "X-RateLimit-Limit": str(limit["rate"]), "X-RateLimit-Remaining": "0",
                    **extra,
                }), {}
            window.append(now_mono)
            counters.accepted += 1
            counters.max_accepted_per_second = _slide(counters.admitted, now_mono,
                                                      counters.max_accepted_per_second)
            for key, _cap in caps:
                self.daily[(account_id, key, day)] += 1
            cap = next((c for _k, c in caps if c is not None), None)
            if cap is not None:
                used = max(self.daily[(account_id, k, day)] for k, c in caps if c is not None)
                headers.update({"X-RateLimit-Limit": str(cap),
                                "X-RateLimit-Remaining": str(max(0, cap - used))})
            else:
                headers.update({"X-RateLimit-Limit": str(limit["rate"]),
                                "X-RateLimit-Remaining": str(limit["rate"] - len(window))})
            return None, headers

    def stats(self) -> dict:
        out: dict[str, dict] = {}
        day = _day(self.clock.now())
        with self.lock:
            for (account_id, category), counters in self.counters.items():
                entry = counters.public()
                entry["today"] = self.daily.get((account_id, category, day), 0)
                out.setdefault(account_id, {})[category] = entry
        return out

    def reset(self) -> None:
        with self.lock:
            self.counters.clear()
            self.daily.clear()
            self.windows.clear()


def _slide(times: deque, now: float, best: int) -> int:
    times.append(now)
    while now - times[0] >= 1.0:
        times.popleft()
    return max(best, len(times))


def _day(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def _next_midnight(ts: float) -> str:
    # Counters reset at 00:00 UTC: inferred from the Retry-After values Zoom sends; not documented.
    return iso((ts // 86400 + 1) * 86400)
