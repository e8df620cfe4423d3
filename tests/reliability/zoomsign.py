"""Builds deliveries as Zoom signs them, for the reliability tests.

The scheme: docs/zoom.md, "Signature verification".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid


def compact(obj) -> bytes:
    # The shape Zoom sends: compact JSON, non-ASCII unescaped (what Zoom's own SDK re-creates).
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def signed_headers(secret_token: str, body: bytes, timestamp: int | None = None) -> dict:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret_token.encode(), b"v0:" + ts.encode() + b":" + body,
                      hashlib.sha256).hexdigest()
    return {"x-zm-signature": f"v0={digest}", "x-zm-request-timestamp": ts,
            "content-type": "application/json"}


def user_created(account_id: str, n: int, *, run: str = "") -> bytes:
    user_id = f"u{run}{n:06d}"
    return compact({
        "event": "user.created", "event_ts": int(time.time() * 1000),
        "payload": {"account_id": account_id, "operator": "admin@example.com",
                    "creation_type": "create",
                    "object": {"id": user_id, "email": f"{user_id}@example.com",
                               "first_name": "Zoë", "last_name": f"User {n}", "type": 1}}})


def meeting_ended(account_id: str, *, meeting_uuid: str | None = None, meeting_id: int = 0,
                  host_id: str = "h1") -> bytes:
    return compact({
        "event": "meeting.ended", "event_ts": int(time.time() * 1000),
        "payload": {"account_id": account_id, "object": {
            "uuid": meeting_uuid or f"{uuid.uuid4().hex[:22]}==", "id": meeting_id,
            "host_id": host_id, "topic": "Weekly", "type": 2,
            "start_time": "2026-11-29T10:00:00Z", "end_time": "2026-11-29T10:30:00Z",
            "duration": 30, "timezone": "UTC"}}})
