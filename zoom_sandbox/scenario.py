"""Scenario mode: a day of account activity (users change, meetings end) played against a portal.

The timeline is a pure function of the seed. Two ways to play it:
- direct: events are built from a local world and sent, signed, straight to ``--to``;
- ``--sandbox URL``: the running sandbox's control API ends meetings and changes users, so the
  data exists when the portal's workers come to fetch it, and the sandbox delivers the events to
  the app's registered event URL.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from typing import TextIO

from .control import Sandbox
from .world import rng


def timeline(seed: int, hours: float) -> list[tuple[float, str, dict]]:
    """(simulated second, action, arguments), sorted; busier in working hours."""
    r = rng(seed, "scenario")
    events: list[tuple[float, str, dict]] = []
    for hour in range(int(hours + 0.999)):
        busy = 8 <= hour % 24 < 18
        actions = (["meeting"] * r.randint(2, 6) if busy else ["meeting"] * r.randint(0, 1))
        actions += ["webinar"] * (1 if busy and r.random() < 0.15 else 0)
        actions += ["user.created"] * (1 if r.random() < 0.4 else 0)
        actions += ["user.updated"] * r.randint(0, 2)
        actions += ["user.deleted"] * (1 if r.random() < 0.1 else 0)
        for action in actions:
            at = hour * 3600 + r.randrange(3600)
            if at >= hours * 3600:
                continue
            args = {"participants": r.randint(2, 40), "minutes": r.randint(10, 75)}
            if action == "webinar":
                args = {"participants": r.randint(20, 200), "minutes": r.randint(30, 90)}
            events.append((at, action, args))
    return sorted(events, key=lambda e: e[0])


class DirectSink:
    """Builds each event from a local world and sends it once, synchronously."""

    def __init__(self, sandbox: Sandbox, client_id: str):
        self.sandbox = sandbox
        self.client_id = client_id
        self.sandbox.sync_delivery = True
        self.users: list[str] = []

    def __call__(self, action: str, args: dict) -> list[int | None]:
        sb = self.sandbox
        if action in ("meeting", "webinar"):
            result = sb.end_meeting(kind=action, client_id=self.client_id, **args)
        elif action == "user.created" or not self.users:
            result = sb.create_user(client_id=self.client_id)
            self.users.append(result["user"]["id"])
        elif action == "user.updated":
            result = sb.update_user(self.users[-1], {"dept": "Sales"})
        else:
            result = sb.delete_user(self.users.pop())
        log = {d["id"]: d for d in sb.deliverer.public_log()}
        return [log[i]["attempts"][-1]["status"] for i in result["deliveries"]]


class ControlSink:
    """Drives a running sandbox through its control API."""

    def __init__(self, sandbox_url: str, account_id: str):
        self.base = sandbox_url.rstrip("/") + "/_sandbox"
        self.account_id = account_id
        self.users: list[str] = []

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(  # noqa: S310 - the operator's own sandbox URL
            self.base + path, method=method, data=json.dumps(body or {}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read())

    def __call__(self, action: str, args: dict) -> list[int | None]:
        account = {"account_id": self.account_id} if self.account_id else {}
        if action in ("meeting", "webinar"):
            self._call("POST", f"/{action}s/end", {**account, **args})
        elif action == "user.created" or not self.users:
            self.users.append(self._call("POST", "/users", account)["user"]["id"])
        elif action == "user.updated":
            self._call("PATCH", f"/users/{self.users[-1]}", {"dept": "Sales"})
        else:
            self._call("DELETE", f"/users/{self.users.pop()}")
        return []  # the sandbox delivers in the background; see its stats


def play(events: list[tuple[float, str, dict]], sink: Callable[[str, dict], list],
         *, speed: float, out: TextIO) -> Counter:
    """Plays the timeline at ``speed`` simulated seconds per real second."""
    started = time.monotonic()
    outcome: Counter = Counter()
    for at, action, args in events:
        wait = at / speed - (time.monotonic() - started)
        if wait > 0:
            time.sleep(wait)
        statuses = sink(action, args)
        ok = all(s in (200, 204) for s in statuses)
        outcome["ok" if ok else "failed"] += 1
        shown = ",".join(str(s) for s in statuses) or "queued"
        clock = f"{int(at // 3600):02d}:{int(at % 3600 // 60):02d}"
        out.write(f"{clock} {action:<13} {shown}\n")
        out.flush()
    return outcome
