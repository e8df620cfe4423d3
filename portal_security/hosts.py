"""Which hosts the portal answers, decided per request: the staff hosts and tenants' hostnames.

`DJANGO_ALLOWED_HOSTS` (settings.PORTAL_STAFF_HOSTS) lists the staff hosts, matched as Django's
ALLOWED_HOSTS would (a leading dot matches subdomains). A tenant's hostname is served from the
moment staff save it, through the same per-process host cache the tenant lookup uses
(tenants/host_cache.py), so no restart or settings change is needed. Anything else gets a plain
400, or a plain 404 on the tenant URLs (the answer Zoom and customers are promised for an
unknown host). The admin answers only on staff hosts: on a customer's hostname it is a 404.

Settings open Django's own host check (ALLOWED_HOSTS = ["*"]) because this middleware, placed
first, does it instead; portal_security/checks.py makes that placement a start-up requirement.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseNotFound
from django.http.request import split_domain_port, validate_host

from tenants.host_cache import tenant_for_host

logger = logging.getLogger(__name__)

#: Paths whose unknown-host answer is 404 (the tenant URLs), not 400.
TENANT_PATH_PREFIXES = ("/zoom/", "/adminapi/")
#: Load balancers probe by address; the probes reveal nothing and need no tenant.
PROBE_PATHS = ("/healthz", "/readyz")
ADMIN_PATH_PREFIX = "/admin/"


def is_staff_host(domain: str) -> bool:
    return bool(domain) and validate_host(domain, settings.PORTAL_STAFF_HOSTS)


def _plain(response_class, text: str) -> HttpResponse:
    return response_class(text + "\n", content_type="text/plain; charset=utf-8")


class HostValidationMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        domain, _port = split_domain_port(request._get_raw_host())
        request.portal_staff_host = is_staff_host(domain)
        if request.portal_staff_host or path in PROBE_PATHS:
            return self.get_response(request)
        if path.startswith(ADMIN_PATH_PREFIX):
            # The admin lives on staff hosts only; on a customer's hostname it does not exist.
            return _plain(HttpResponseNotFound, "Not Found")
        try:
            known = bool(domain) and tenant_for_host(domain) is not None
        except DatabaseError:
            logger.exception("host check failed: database unavailable")
            return HttpResponse("Service temporarily unavailable\n", status=503,
                                content_type="text/plain; charset=utf-8",
                                headers={"Retry-After": "60"})
        if known:
            return self.get_response(request)
        # Shown without the host: it is attacker-chosen text.
        logger.info("refused request for an unknown host on %s", path[:100])
        if path.startswith(TENANT_PATH_PREFIXES):
            return _plain(HttpResponseNotFound, "Not Found: unknown host")
        return _plain(HttpResponseBadRequest, "Bad Request: unknown host")
