"""What the log lines of the current request or task are about: ids kept in context variables.

One `ContextVar` per field, so a value bound in a request or a Celery task is seen by every log
line written while it runs (threads and asyncio tasks each get their own copy) and never leaks
into the next one. The request itself is kept too, so the tenant (set later by the tenant
middleware) and Zoom's tracking header are read when a line is written, not when the request
started. Nothing here imports Django models: the log formatter loads this before apps are ready.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar, Token
from typing import Any

# Zoom puts this on every event notification and on its API answers; support asks for it.
ZOOM_TRACKING_HEADER = "x-zm-trackingid"

request_id_var: ContextVar[str | None] = ContextVar("portal_request_id", default=None)
request_var: ContextVar[Any] = ContextVar("portal_request", default=None)
task_id_var: ContextVar[str | None] = ContextVar("portal_task_id", default=None)
tenant_var: ContextVar[str | None] = ContextVar("portal_tenant", default=None)
zoom_tracking_id_var: ContextVar[str | None] = ContextVar("portal_zoom_tracking_id",
                                                          default=None)

_FIELDS: dict[str, ContextVar] = {
    "request_id": request_id_var,
    "task_id": task_id_var,
    "tenant": tenant_var,
    "zoom_tracking_id": zoom_tracking_id_var,
}


def bind(**values: str | None) -> dict[str, Token]:
    """Sets fields (request_id, task_id, tenant, zoom_tracking_id); returns tokens for `unbind`."""
    return {name: _FIELDS[name].set(value) for name, value in values.items()}


def unbind(tokens: dict[str, Token]) -> None:
    for name, token in tokens.items():
        _FIELDS[name].reset(token)


@contextlib.contextmanager
def bound(**values: str | None) -> Iterator[None]:
    """`with bound(tenant="acme"):` the lines written inside carry the values."""
    tokens = bind(**values)
    try:
        yield
    finally:
        unbind(tokens)


def from_request(request) -> dict[str, str]:
    """The fields a request object knows: its id (set by the middleware), tenant, Zoom tracking."""
    tenant = getattr(request, "tenant", None)
    meta = getattr(request, "META", None) or {}
    values = {"request_id": getattr(request, "request_id", None),
              "tenant": getattr(tenant, "slug", None) if tenant is not None else None,
              "zoom_tracking_id": meta.get("HTTP_X_ZM_TRACKINGID")}
    return {name: str(value) for name, value in values.items() if value}


def current(request=None) -> dict[str, str]:
    """The known fields for a log line now; unknown ones are left out.

    `request`: one a log record carries (Django's request logging writes "Not Found: /x" after
    the middleware has returned, so the context no longer holds it).
    """
    values = {name: str(value) for name, var in _FIELDS.items() if (value := var.get())}
    request = request if request is not None else request_var.get()
    if request is not None:
        for name, value in from_request(request).items():
            values.setdefault(name, value)
    return values
