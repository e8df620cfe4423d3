"""Production-safe settings: the default when DJANGO_SETTINGS_MODULE is unset.

Refuses to start without DJANGO_SECRET_KEY and FIELD_ENCRYPTION_KEY unless DJANGO_DEBUG=1,
in which case development stand-ins are used and a warning is printed.
"""

import copy
import logging
import sys

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import DEBUG, FIELD_ENCRYPTION_KEY, SECRET_KEY, env

# Throwaway values for DJANGO_DEBUG=1 only; never used with debug off.
_DEBUG_SECRET_KEY = "insecure-debug-only-secret-key-do-not-use-in-production"  # noqa: S105
_DEBUG_FIELD_KEY = "bm90LWEtcmVhbC1rZXktZGVidWctb25seS0wMDAwMDA="


def _require(name: str, value):
    if value:
        return value
    if DEBUG:
        print(f"warning: {name} is not set; using a debug-only stand-in.", file=sys.stderr)
        return None
    raise ImproperlyConfigured(
        f"{name} is required when DJANGO_DEBUG is off; see .env.example for how to make one."
    )


SECRET_KEY = _require("DJANGO_SECRET_KEY", SECRET_KEY) or _DEBUG_SECRET_KEY
FIELD_ENCRYPTION_KEY = _require("FIELD_ENCRYPTION_KEY", FIELD_ENCRYPTION_KEY) or [_DEBUG_FIELD_KEY]

# One JSON object per log line (observability/logs.py), for log search by tenant and request.
LOGGING = copy.deepcopy(LOGGING)  # noqa: F405  (base's dict stays as it is)
LOGGING["formatters"]["json"] = {"()": "observability.logs.JsonFormatter"}
LOGGING["handlers"]["console"]["formatter"] = "json"
logging.captureWarnings(True)  # Python's warnings too, instead of raw text on stderr

if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    # /healthz and /readyz are probed over plain HTTP by load balancers inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 30)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
    SECURE_CONTENT_TYPE_NOSNIFF = True

# --- Cookies and headers ----------------------------------------------------------------------
# Lax, not Strict: Zoom sends the customer's browser back to the OAuth redirect with a top-level
# GET from zoom.us, and the `state` check needs the session cookie on that request.
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# A staff session lasts a working day, not Django's two weeks.
SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_COOKIE_AGE", default=8 * 60 * 60)
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if not DEBUG:
    # __Host- cookies are refused by browsers unless Secure, host-only and Path=/: a sibling
    # subdomain cannot plant a session or CSRF cookie for a tenant host.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    if not SECURE_HSTS_PRELOAD:
        # Preloading commits the whole domain to HTTPS in browsers for months; it is an
        # operator's decision (DJANGO_SECURE_HSTS_PRELOAD=1), not a default.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
