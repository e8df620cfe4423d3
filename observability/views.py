"""`GET /metrics`: Prometheus' text format for a scraper holding the bearer token, on staff hosts.

Answers (the portal's HTTP contract): 404 when PORTAL_METRICS_TOKEN is not configured or the
request came to a customer's hostname (a tenant host never reveals that the endpoint exists);
401 with `WWW-Authenticate: Bearer` for a missing or wrong token (compared in constant time);
otherwise 200 with every process's counters (one multiprocess registry when
PROMETHEUS_MULTIPROC_DIR is set) and the gauges computed now from the database and Redis.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from .collectors import PortalCollector

_scrape_time = CollectorRegistry(auto_describe=False)
_scrape_time.register(PortalCollector())


def _process_registry():
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry
    return REGISTRY


def _bearer(request) -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


@login_not_required
@require_GET
@never_cache
def metrics(request):
    token = getattr(settings, "PORTAL_METRICS_TOKEN", "")
    # Staff hosts only (the host middleware marks them); a customer's hostname never
    # reveals that the endpoint exists.
    if (not token or getattr(request, "tenant", None) is not None
            or not getattr(request, "portal_staff_host", False)):
        raise Http404
    given = _bearer(request)
    if not given or not constant_time_compare(given, token):
        response = HttpResponse("unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body = generate_latest(_process_registry()) + generate_latest(_scrape_time)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
