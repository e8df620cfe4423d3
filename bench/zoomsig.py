"""Zoom's webhook signature, built independently of the portal's receiver and the sandbox.

docs/zoom.md, "Signature verification": `x-zm-signature: v0=` + hex HMAC-SHA256(Secret Token,
`v0:{x-zm-request-timestamp}:{raw body}`), timestamp in seconds. Bodies are compact JSON with
non-ASCII characters unescaped, the shape Zoom sends (and that Zoom's own SDK re-creates).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time


def compact_json(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def zoom_signature(secret_token: str, timestamp: int | str, body: bytes) -> str:
    message = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret_token.encode(), message, hashlib.sha256).hexdigest()


def signed_webhook_headers(secret_token: str, body: bytes, *,
                           timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return {"x-zm-request-timestamp": str(ts),
            "x-zm-signature": zoom_signature(secret_token, ts, body)}
