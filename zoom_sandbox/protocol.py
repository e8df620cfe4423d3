"""The small request/response types the handlers exchange, and Zoom's JSON error shape."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import parse_qs


@dataclass
class Request:
    method: str
    raw_path: str  # as received, still percent-encoded (the double-encoding rule needs it)
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    def form(self) -> dict[str, str]:
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[0] for k, v in parsed.items()}

    def json(self) -> dict:
        if not self.body.strip():
            return {}
        data = json.loads(self.body)
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        return data


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: object, status: int = 200, headers: dict | None = None) -> Response:
        body = json.dumps(data, ensure_ascii=False).encode()
        return cls(status, body, {"Content-Type": "application/json;charset=UTF-8",
                                  **(headers or {})})

    @classmethod
    def html(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode(), {"Content-Type": "text/html; charset=utf-8"})

    @classmethod
    def redirect(cls, location: str) -> Response:
        return cls(302, b"", {"Location": location})


def zoom_error(status: int, code: int, message: str, headers: dict | None = None) -> Response:
    """REST errors: ``{"code": <Zoom code>, "message": ...}``."""
    return Response.json({"code": code, "message": message}, status, headers)


def oauth_error(error: str, reason: str, status: int = 400) -> Response:
    """/oauth/token errors are ``{"reason": ..., "error": ...}``, HTTP 400."""
    return Response.json({"reason": reason, "error": error}, status)
