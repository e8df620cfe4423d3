"""Settings for the Celery worker subprocesses of the integration tests (test settings plus
what the test passes through the environment: the sandbox URLs, limits, visibility timeout)."""

from nectar_portal.settings.test import *  # noqa: F403
from nectar_portal.settings.test import ZOOM_API_BASE_URL, ZOOM_OAUTH_BASE_URL, env

ZOOM_API_BASE_URL = env.str("ZOOM_API_BASE_URL", default=ZOOM_API_BASE_URL)
ZOOM_OAUTH_BASE_URL = env.str("ZOOM_OAUTH_BASE_URL", default=ZOOM_OAUTH_BASE_URL)
ZOOM_RATE_LIMIT_OVERRIDES = env.json("ZOOM_RATE_LIMIT_OVERRIDES", default={})
ZOOM_METRICS_FETCH_DELAY_SECONDS = env.int("ZOOM_METRICS_FETCH_DELAY_SECONDS", default=0)
# A dead worker's unacked messages are restored by a sweep every interval x throttle seconds
# (kombu's default 10 x 10); the kill test sweeps every second.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
