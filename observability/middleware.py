"""Request ids: every response answers `X-Request-ID`, and every log line of the request has it.

The caller's `X-Request-ID` is kept when it is sane (1 to 128 characters from a safe set: what
load balancers and tracing proxies send), so one id follows a request across systems; anything
else is replaced by a fresh random id, so a hostile header cannot inject text into logs or
responses. Placed first in MIDDLEWARE so even answers made by other middleware carry it.
"""

from __future__ import annotations

import re
import uuid

from . import context

HEADER = "X-Request-ID"
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+=/-]{0,127}")


def request_id_from(value: str | None) -> str:
    """The caller's id when sane, else a new one (32 hex characters)."""
    if value and _SANE.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_from(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = request_id
        tokens = context.bind(request_id=request_id)
        request_token = context.request_var.set(request)
        try:
            response = self.get_response(request)
        finally:
            context.request_var.reset(request_token)
            context.unbind(tokens)
        response[HEADER] = request_id
        return response
