"""Django settings for benchmark processes (gunicorn, Celery workers, the bench itself).

The production settings (`nectar_portal.settings.production`, what `gunicorn nectar_portal.wsgi`
loads): DEBUG off, persistent database connections with health checks, the full middleware
stack with the lockout middleware on, Redis cache and broker. The bench's environment
(`bench/common.py`) supplies throwaway keys and hosts, and turns off only the HTTPS redirect:
in production a TLS-terminating proxy sits in front and the redirect never fires for Zoom's
requests; here plain HTTP reaches gunicorn directly. On top: Zoom URLs pointing at the bench's
sandbox, no wait before a meeting's metrics fetch, and quiet logs. With BENCH_SCHEMA=models the
tables come straight from the models (as pytest's --nomigrations does) for the days when
migration files lag behind models still being changed.
"""

import json

from nectar_portal.settings.production import *  # noqa: F403
from nectar_portal.settings.production import LOGGING, env

CELERY_TASK_ALWAYS_EAGER = False
PORTAL_URL_SCHEME = env.str("PORTAL_URL_SCHEME", default="http")
# The metrics fetch normally waits a few minutes for Zoom's data; the sandbox has it at once.
ZOOM_METRICS_FETCH_DELAY_SECONDS = env.float("ZOOM_METRICS_FETCH_DELAY_SECONDS", default=0)
ZOOM_RATE_LIMIT_OVERRIDES = json.loads(env.str("BENCH_RATE_LIMIT_OVERRIDES", default="{}"))
# Each tenant's share of the workers (zoom_integration/fairness.py); the fairness benchmark
# also runs with fair sharing off.
ZOOM_TENANT_FETCH_SLOTS = env.int("ZOOM_TENANT_FETCH_SLOTS", default=2)
ZOOM_FAIR_SHARING = env.bool("ZOOM_FAIR_SHARING", default=True)
LOGGING = {**LOGGING, "root": {**LOGGING["root"], "level": env.str("LOG_LEVEL", default="WARNING")}}


class _NoMigrations:
    """MIGRATION_MODULES value meaning "no migrations for any app" (pytest-django's trick)."""

    def __contains__(self, item):
        return True

    def __getitem__(self, item):
        return None


if env.str("BENCH_SCHEMA", default="migrations") == "models":
    MIGRATION_MODULES = _NoMigrations()
