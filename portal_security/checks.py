"""Start-up checks: the host check that settings open is really done by our middleware."""

from django.conf import settings
from django.core import checks

HOST_MIDDLEWARE = "portal_security.hosts.HostValidationMiddleware"
# May stand before it: it only tags the request and the answer with an id, never reads Host.
MAY_PRECEDE = {"observability.middleware.RequestIdMiddleware"}


@checks.register(checks.Tags.security)
def host_validation_in_place(app_configs=None, **kwargs):
    if "*" not in settings.ALLOWED_HOSTS:
        return []
    before = [m for m in settings.MIDDLEWARE if m not in MAY_PRECEDE]
    if before[:1] != [HOST_MIDDLEWARE]:
        return [checks.Error(
            "ALLOWED_HOSTS allows every host, but HostValidationMiddleware is not the first "
            "middleware: any Host header would be served.",
            hint=f"Put '{HOST_MIDDLEWARE}' first in MIDDLEWARE.", id="portal_security.E001")]
    return []
