"""The client address django-axes keys login throttling on (with the username).

Behind the TLS-terminating proxy REMOTE_ADDR is the proxy: every client would
share one address. With DJANGO_TRUSTED_PROXY_COUNT=N, the address is the N-th entry from the
right of X-Forwarded-For (the one the outermost trusted proxy appended); entries further left
are client-supplied and never trusted.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip_address(request) -> str | None:
    remote = _valid_ip(request.META.get("REMOTE_ADDR", "") or "")
    count = int(getattr(settings, "PORTAL_TRUSTED_PROXY_COUNT", 0) or 0)
    if count <= 0:
        return remote
    hops = [h for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    if len(hops) < count:
        return remote
    return _valid_ip(hops[-count]) or remote
