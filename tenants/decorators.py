"""View decorators for tenant URLs."""

import functools

from django.http import Http404


def tenant_required(view):
    """404 unless the request's host belongs to an active tenant."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        tenant = getattr(request, "tenant", None)
        if tenant is None or not tenant.is_active:
            raise Http404("No customer is configured for this hostname.")
        return view(request, *args, **kwargs)

    return wrapper
