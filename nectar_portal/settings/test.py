"""Settings for pytest: real PostgreSQL and Redis (defaults: the local servers)."""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = "test-only-secret-key"  # noqa: S105
# The staff hosts of the test client and live servers; tenants' hostnames come from the database.
PORTAL_STAFF_HOSTS = ["testserver", "localhost", "127.0.0.1"]
DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/nectar")}
DATABASES["default"]["CONN_MAX_AGE"] = 0
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/15")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                      "LOCATION": REDIS_URL}}
# Two fixed test keys: tests of rotation swap their order.
FIELD_ENCRYPTION_KEY = ["dGVzdC1rZXktb25lLTAwMDAwMDAwMDAwMDAwMDAwMDA=",
                        "dGVzdC1rZXktdHdvLTAwMDAwMDAwMDAwMDAwMDAwMDA="]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
PORTAL_URL_SCHEME = "https"
# Unit tests run tasks eagerly; integration tests start a real worker with their own settings.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
CELERY_TASK_EAGER_PROPAGATES = True
# Unit tests fake these hosts with `responses`; child processes may point them at a sandbox.
ZOOM_OAUTH_BASE_URL = env.str("ZOOM_OAUTH_BASE_URL", default="https://zoom.us").rstrip("/")
ZOOM_API_BASE_URL = env.str("ZOOM_API_BASE_URL", default="https://api.zoom.us/v2").rstrip("/")
# Serve static files through the finders: no collectstatic needed in tests.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

# --- Admin sign-in ----------------------------------------------------------------------------
# Off for the suite (client.login has no request for axes to key on); the tests of throttling
# in tests/reliability turn it on with `settings.AXES_ENABLED = True`.
AXES_ENABLED = False
# Tests sign superusers in without a device; the tests of the rule turn it on.
PORTAL_SUPERUSER_OTP_REQUIRED = False
