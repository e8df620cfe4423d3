"""Host → `request.tenant` for the tenant URLs; no globals, no thread-locals.

`request.tenant` is the tenant owning the request's hostname, or None. Tenant views 404 on
None (see `tenants.decorators.tenant_required`). Probes, admin and static files skip the
lookup so they never touch the tenant tables.
"""

import logging

from django.db import DatabaseError
from django.http import JsonResponse

from .host_cache import tenant_for_host

logger = logging.getLogger(__name__)

_NO_TENANT_PREFIXES = ("/healthz", "/readyz", "/static/", "/admin/")


class TenantMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.tenant = None
        if not request.path.startswith(_NO_TENANT_PREFIXES):
            try:
                # The raw header is enough to pick a tenant; get_host() still validates it
                # against ALLOWED_HOSTS in the views that build URLs.
                request.tenant = tenant_for_host(request.META.get("HTTP_HOST", ""))
            except DatabaseError:
                # Without the database nothing can be verified or stored: 503 tells Zoom to
                # retry later, where a 500 would be a bug.
                logger.exception("tenant lookup failed: database unavailable")
                return JsonResponse({"error": "service temporarily unavailable"}, status=503,
                                    headers={"Retry-After": "60"})
        return self.get_response(request)
