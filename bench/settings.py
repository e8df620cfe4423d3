"""Django settings for benchmark processes (gunicorn, Celery workers, the bench itself).

The test settings with what production would have: DEBUG off, persistent database connections
(test.py forces CONN_MAX_AGE=0, which makes every request pay a PostgreSQL connect), real Celery
(not eager), Zoom URLs pointing at the bench's sandbox, and quiet logs. With BENCH_SCHEMA=models
the tables come straight from the models (as pytest's --nomigrations does) for the days when
migration files lag behind models still being changed.
"""

import json

from nectar_portal.settings.test import *  # noqa: F403
from nectar_portal.settings.test import DATABASES, LOGGING, env

DEBUG = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
ZOOM_OAUTH_BASE_URL = env.str("ZOOM_OAUTH_BASE_URL", default="https://zoom.us").rstrip("/")
ZOOM_API_BASE_URL = env.str("ZOOM_API_BASE_URL", default="https://api.zoom.us/v2").rstrip("/")
PORTAL_URL_SCHEME = env.str("PORTAL_URL_SCHEME", default="http")
# The metrics fetch normally waits a few minutes for Zoom's data; the sandbox has none.
ZOOM_METRICS_FETCH_DELAY_SECONDS = env.float("ZOOM_METRICS_FETCH_DELAY_SECONDS", default=0)
ZOOM_RATE_LIMIT_OVERRIDES = json.loads(env.str("BENCH_RATE_LIMIT_OVERRIDES", default="{}"))
# Static files are not on any measured path; autorefresh would stat files on every request.
WHITENOISE_AUTOREFRESH = False
LOGGING = {**LOGGING, "root": {**LOGGING["root"], "level": env.str("LOG_LEVEL", default="WARNING")}}


class _NoMigrations:
    """MIGRATION_MODULES value meaning "no migrations for any app" (pytest-django's trick)."""

    def __contains__(self, item):
        return True

    def __getitem__(self, item):
        return None


if env.str("BENCH_SCHEMA", default="migrations") == "models":
    MIGRATION_MODULES = _NoMigrations()
