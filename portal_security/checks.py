"""Start-up checks: the host check that settings open is really done by our middleware."""

from django.conf import settings
from django.core import checks

HOST_MIDDLEWARE = "portal_security.hosts.HostValidationMiddleware"


@checks.register(checks.Tags.security)
def host_validation_in_place(app_configs=None, **kwargs):
    if "*" not in settings.ALLOWED_HOSTS:
        return []
    if settings.MIDDLEWARE[:1] != [HOST_MIDDLEWARE]:
        return [checks.Error(
            "ALLOWED_HOSTS allows every host, but HostValidationMiddleware is not the first "
            "middleware: any Host header would be served.",
            hint=f"Put '{HOST_MIDDLEWARE}' first in MIDDLEWARE.", id="portal_security.E001")]
    return []
