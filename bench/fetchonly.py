"""The baselines of benchmarks 2 to 4: the same sandbox pages, fetched by a plain requests loop.

No portal code: no rate limiter, no database, no parsing beyond `next_page_token`. It paces
itself to the sandbox's per-second limit with a client-side sliding window (a loop that ignored
the limit would only collect 429s) and retries a 429 after a short pause, so it measures what
fetching those pages costs at best, on the same machine, in the same run.
"""

from __future__ import annotations

import time
from collections import deque
from urllib.parse import quote

import requests

# The sandbox's business-plan limits per second (docs/zoom.md, "Rate limits").
HEAVY_PER_SECOND = 40
MEDIUM_PER_SECOND = 60


def encode_uuid(uuid: str) -> str:
    """Double-encodes a UUID starting with "/" or holding "//".

    docs/zoom.md, "Meeting UUIDs and double encoding".
    """
    once = quote(uuid, safe="")
    return quote(once, safe="") if uuid.startswith("/") or "//" in uuid else once


class Pacer:
    """At most `per_second` calls in any one-second window."""

    def __init__(self, per_second: int):
        self.per_second = per_second
        self.sent: deque = deque()

    def wait(self) -> None:
        now = time.monotonic()
        while self.sent and now - self.sent[0] >= 1.0:
            self.sent.popleft()
        if len(self.sent) >= self.per_second:
            time.sleep(max(0.0, 1.0 - (now - self.sent[0])) + 0.001)
            self.sent.popleft()
        self.sent.append(time.monotonic())


class FetchOnly:
    def __init__(self, api_base: str, token: str):
        self.api_base = api_base.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}",
                                     "Accept": "application/json"})
        self.calls = 0
        self.rejected = 0
        self.bytes = 0

    def get(self, path: str, params: dict, pacer: Pacer) -> dict:
        while True:
            pacer.wait()
            self.calls += 1
            response = self.session.get(f"{self.api_base}/{path}", params=params, timeout=30)
            if response.status_code == 429:
                self.rejected += 1
                time.sleep(0.05)
                continue
            response.raise_for_status()
            self.bytes += len(response.content)
            return response.json()

    def pages(self, path: str, params: dict, pacer: Pacer, key: str) -> int:
        """Follows next_page_token; returns how many items came back."""
        params, items = dict(params), 0
        while True:
            page = self.get(path, params, pacer)
            items += len(page.get(key) or [])
            token = page.get("next_page_token")
            if not token:
                return items
            params["next_page_token"] = token

    def meeting(self, uuid: str, *, kind: str = "meeting") -> dict:
        """Detail, every participant (pages of 300), every QoS page (pages of 10)."""
        pacer = Pacer(HEAVY_PER_SECOND)
        base = f"metrics/{kind}s/{encode_uuid(uuid)}"
        started = time.perf_counter()
        self.get(base, {"type": "past"}, pacer)
        participants = self.pages(base + "/participants",
                                  {"type": "past", "page_size": 300}, pacer, "participants")
        samples = 0
        params = {"type": "past", "page_size": 10}
        while True:
            page = self.get(base + "/participants/qos", params, pacer)
            samples += sum(len(p.get("user_qos") or []) for p in page.get("participants") or [])
            if not page.get("next_page_token"):
                break
            params["next_page_token"] = page["next_page_token"]
        return {"seconds": round(time.perf_counter() - started, 3), "calls": self.calls,
                "rejected_429": self.rejected, "participants": participants,
                "qos_samples": samples, "bytes": self.bytes}

    def directory(self, *, members: bool = True) -> dict:
        """Users of every status (pages of 300), groups, and (`members`) each group's members."""
        pacer = Pacer(MEDIUM_PER_SECOND)
        started = time.perf_counter()
        users = {status: self.pages("users", {"status": status, "page_size": 300}, pacer,
                                    "users")
                 for status in ("active", "inactive", "pending")}
        user_calls = self.calls
        groups = self.get("groups", {}, pacer).get("groups") or []
        listed = sum(self.pages(f"groups/{quote(g['id'], safe='')}/members",
                                {"page_size": 300}, pacer, "members")
                     for g in groups) if members else None
        return {"seconds": round(time.perf_counter() - started, 3), "calls": self.calls,
                "user_list_calls": user_calls, "rejected_429": self.rejected,
                "users": users, "groups": len(groups), "members": listed,
                "bytes": self.bytes}
