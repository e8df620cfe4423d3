"""Webhook delivery as Zoom does it.

Owns the event envelopes, the byte-exact body, the signature headers, the 3-second timeout, the
retry schedule, the URL-validation challenge and the delivery log. Deliveries go out with
``http.client``; each runs in its own daemon thread so retries never block the server.

Public sources: developers.zoom.us/docs/api/webhooks/ (envelope, signature, URL validation),
Zoom's blog post "webhook delays" (retries 5, 20 and 60 minutes apart),
github.com/zoom/webhook-sample
and github.com/zoom/rivet-javascript (headers, signature check, event types).

Whether a retry carries a fresh ``x-zm-request-timestamp`` is not documented. The sandbox signs
each attempt afresh by default (``retry_timestamp: "fresh"``); ``"original"`` keeps the first
attempt's timestamp and signature, the hard case for a receiver with a short window.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import itertools
import json
import secrets
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .world import iso

USER_AGENT = "Zoom Marketplace/1.0a"
TIMEOUT = 3.0  # an endpoint must answer within 3 seconds
RETRY_SCHEDULE = (300, 1200, 3600)  # 5, 20, 60 minutes after the previous attempt
USER_EVENTS = ("user.created", "user.updated", "user.deleted", "user.activated",
               "user.deactivated", "user.disassociated")
GROUP_EVENTS = ("group.created", "group.updated", "group.deleted", "group.member_added",
                "group.member_deleted")
EVENTS = ("meeting.ended", "webinar.ended", *USER_EVENTS, *GROUP_EVENTS,
          "app_deauthorized", "endpoint.url_validation")


def body_bytes(obj: Any) -> bytes:
    """Compact, non-ASCII unescaped: the bytes Zoom sends. A receiver must hash them as
    received; re-serialising breaks on non-ASCII (github.com/Jericho/ZoomNet/issues/349)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signature(secret_token: str, timestamp: str, body: bytes) -> str:
    """``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{raw body}``, key: the Secret Token."""
    message = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret_token.encode(), message, hashlib.sha256).hexdigest()


def encrypted_token(secret_token: str, plain_token: str) -> str:
    """URL validation: hex HMAC-SHA256 of plainToken keyed by the Secret Token."""
    return hmac.new(secret_token.encode(), plain_token.encode(), hashlib.sha256).hexdigest()


def now_ms() -> int:
    return int(time.time() * 1000)


# -- envelopes ------------------------------------------------------------------------------------

def envelope(event: str, account_id: str, obj: dict | None = None, **payload: Any) -> dict:
    """The common envelope: event, event_ts (ms), payload.account_id, payload.object."""
    if event == "app_deauthorized":
        # No object, and event_ts sits inside payload.
        body = {"account_id": account_id, **payload}
        body.setdefault("event_ts", now_ms())
        body.setdefault("deauthorization_time", iso(time.time())[:-1] + ".000Z")
        body.setdefault("signature", secrets.token_hex(32))
        return {"event": event, "payload": body}
    if event == "endpoint.url_validation":
        # The payload is only the plainToken.
        return {"event": event, "event_ts": now_ms(),
                "payload": {"plainToken": payload.get("plainToken") or secrets.token_urlsafe(16)}}
    return {"event": event, "event_ts": now_ms(),
            "payload": {"account_id": account_id, **payload, "object": obj or {}}}


@dataclass
class Target:
    """Where and how to deliver: one app's endpoint and secrets."""

    url: str
    secret_token: str
    client_id: str = ""
    verification_token: str = ""


@dataclass
class Delivery:
    id: int
    event: str
    url: str
    client_id: str
    account_id: str
    tracking_id: str
    body: str
    state: str = "pending"  # pending | delivered | failed
    attempts: list[dict] = field(default_factory=list)
    validation_ok: bool | None = None  # for endpoint.url_validation
    timestamp: str = ""  # the first attempt's x-zm-request-timestamp (or a fixed, aged one)
    fixed_timestamp: bool = False  # every attempt signs with ``timestamp``

    def public(self) -> dict:
        return {**self.__dict__, "attempts": list(self.attempts)}


def post(url: str, body: bytes, headers: dict[str, str], timeout: float
         ) -> tuple[int | None, bytes, str]:
    """POSTs once; (status or None, response body, error text)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None, b"", f"not an http(s) URL: {url}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read(1 << 20), ""
    except TimeoutError:
        return None, b"", "timeout"
    except (OSError, http.client.HTTPException) as exc:
        return None, b"", f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()


class Deliverer:
    def __init__(self, *, retry_factor: float = 1.0, timeout: float = TIMEOUT,
                 retry_timestamp: str = "fresh"):
        self.retry_factor = retry_factor
        self.timeout = timeout
        self.retry_timestamp = retry_timestamp
        self.log: list[Delivery] = []
        self.lock = threading.Condition()
        self.stopping = threading.Event()
        self._ids = itertools.count(1)

    def headers(self, target: Target, body: bytes, tracking_id: str,
                timestamp: str = "") -> dict[str, str]:
        timestamp = timestamp or str(int(time.time()))  # seconds
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "x-zm-request-timestamp": timestamp,
            "x-zm-signature": signature(target.secret_token, timestamp, body),
            "x-zm-trackingid": tracking_id,
            "clientid": target.client_id,
        }
        if target.verification_token:
            headers["authorization"] = target.verification_token  # the retired token
        return headers

    def _new(self, target: Target, event: dict, account_id: str,
             timestamp: int | None = None) -> Delivery:
        delivery = Delivery(
            id=next(self._ids), event=event["event"], url=target.url,
            client_id=target.client_id, account_id=account_id,
            tracking_id="v=2.0&s=" + uuid.uuid4().hex, body=body_bytes(event).decode(),
            timestamp=str(timestamp) if timestamp is not None else "",
            fixed_timestamp=timestamp is not None,
        )
        with self.lock:
            self.log.append(delivery)
        return delivery

    def _attempt(self, delivery: Delivery, target: Target) -> tuple[int | None, bytes]:
        body = delivery.body.encode()
        # Not documented: whether a retry keeps the timestamp and tracking id. The tracking id is
        # kept; the timestamp follows ``retry_timestamp`` (see the module docstring).
        if delivery.fixed_timestamp or (self.retry_timestamp == "original"
                                        and delivery.timestamp):
            timestamp = delivery.timestamp
        else:
            timestamp = str(int(time.time()))
        delivery.timestamp = delivery.timestamp or timestamp
        headers = self.headers(target, body, delivery.tracking_id, timestamp)
        started = time.monotonic()
        status, answer, error = post(target.url, body, headers, self.timeout)
        latency = time.monotonic() - started
        if status is not None and latency > self.timeout:
            error = "answered after the timeout"
        with self.lock:
            delivery.attempts.append({"at": iso(time.time()), "timestamp": timestamp,
                                      "status": status,
                                      "latency_ms": round(latency * 1000, 1), "error": error})
        return (status if not error else None), answer

    def deliver(self, target: Target, event: dict, account_id: str = "",
                timestamp: int | None = None) -> Delivery:
        """Delivers in the background with Zoom's retries; returns the log entry at once.
        ``timestamp`` (epoch seconds) signs every attempt with that time instead of now."""
        delivery = self._new(target, event, account_id, timestamp)
        threading.Thread(target=self._run, args=(delivery, target), daemon=True,
                         name=f"zoom-sandbox-delivery-{delivery.id}").start()
        return delivery

    def _run(self, delivery: Delivery, target: Target) -> None:
        for wait in (0, *RETRY_SCHEDULE):
            if wait and self.stopping.wait(wait * self.retry_factor):
                break
            status, _ = self._attempt(delivery, target)
            if status in (200, 204):  # success is 200 or 204 within 3 s
                self._finish(delivery, "delivered")
                return
        self._finish(delivery, "failed")  # nothing more after the third retry

    def _finish(self, delivery: Delivery, state: str) -> None:
        with self.lock:
            delivery.state = state
            self.lock.notify_all()

    def validate(self, target: Target, plain_token: str = "", account_id: str = "") -> Delivery:
        """One URL-validation challenge, no retries; ok only for 200 + the right encryptedToken."""
        event = envelope("endpoint.url_validation", account_id, plainToken=plain_token)
        delivery = self._new(target, event, account_id)
        status, answer = self._attempt(delivery, target)
        delivery.validation_ok = status == 200 and check_validation_answer(
            answer, event["payload"]["plainToken"], target.secret_token)
        self._finish(delivery, "delivered" if delivery.validation_ok else "failed")
        return delivery

    def send_once(self, target: Target, event: dict, account_id: str = "",
                  timestamp: int | None = None) -> Delivery:
        """One attempt, no retries, in this thread (the ``send`` command)."""
        if event["event"] == "endpoint.url_validation":
            return self.validate(target, event["payload"]["plainToken"], account_id)
        delivery = self._new(target, event, account_id, timestamp)
        status, _ = self._attempt(delivery, target)
        self._finish(delivery, "delivered" if status in (200, 204) else "failed")
        return delivery

    def wait_idle(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self.lock:
            while any(d.state == "pending" for d in self.log):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.lock.wait(left)
        return True

    def public_log(self) -> list[dict]:
        with self.lock:
            return [d.public() for d in self.log]

    def reset(self) -> None:
        with self.lock:
            self.log = [d for d in self.log if d.state == "pending"]


def check_validation_answer(answer: bytes, plain_token: str, secret_token: str) -> bool:
    try:
        data = json.loads(answer)
    except ValueError:
        return False
    return (isinstance(data, dict) and data.get("plainToken") == plain_token
            and hmac.compare_digest(str(data.get("encryptedToken", "")),
                                    encrypted_token(secret_token, plain_token)))
