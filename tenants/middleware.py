"""Host → `request.tenant` for the tenant URLs; no globals, no thread-locals.

`request.tenant` is the tenant owning the request's hostname, or None. Tenant views 404 on
None (see `tenants.decorators.tenant_required`). Probes, admin and static files skip the
lookup so they never touch the tenant tables.
"""

from .selectors import tenant_get_by_host

_NO_TENANT_PREFIXES = ("/healthz", "/readyz", "/static/", "/admin/")


class TenantMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.tenant = None
        if not request.path.startswith(_NO_TENANT_PREFIXES):
            # get_host() validates against ALLOWED_HOSTS; the raw header is enough here and
            # an invalid host is reported by get_host() later, in the view that needs it.
            request.tenant = tenant_get_by_host(host=request.META.get("HTTP_HOST", ""))
        return self.get_response(request)
