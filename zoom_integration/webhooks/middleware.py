"""`WebhookPathMiddleware`: `POST /zoom/event` answered without the rest of the middleware stack.

Zoom's deliveries carry no cookie, session, login or CSRF token, and their answer is a status
and at most a small JSON body, so sessions, CSRF, authentication, OTP, messages, clickjacking
headers and the lockout middleware only cost CPU there (about a third of a delivery's, measured
in docs/benchmarks.md). Placed right after Django's `SecurityMiddleware`, this middleware takes
that one path, resolves the tenant from the host (the per-process cache, as `TenantMiddleware`
does) and calls the view directly; every other request goes down the stack as before.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError
from django.http import JsonResponse
from django.urls import reverse

from tenants.host_cache import tenant_for_host
from tenants.selectors import WEBHOOK_URL_NAME

logger = logging.getLogger(__name__)


class WebhookPathMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self._path: str | None = None

    @property
    def path(self) -> str:
        # From the URLconf, which owns the path (read once, on the first request).
        if self._path is None:
            self._path = reverse(WEBHOOK_URL_NAME)
        return self._path

    def __call__(self, request):
        if request.path_info != self.path:
            return self.get_response(request)
        from zoom_integration.views.webhook import zoom_event

        try:
            request.tenant = tenant_for_host(request.META.get("HTTP_HOST", ""))
        except DatabaseError:
            # As TenantMiddleware: without the database nothing can be verified or stored,
            # and a 503 makes Zoom retry later.
            logger.exception("tenant lookup failed: database unavailable")
            return JsonResponse({"error": "service temporarily unavailable"}, status=503,
                                headers={"Retry-After": "60"})
        # Http404 (unknown host) and 405 (not POST) come from the view's own decorators.
        return zoom_event(request)
