"""Settings of the Celery worker subprocess in the browser journeys: the test settings, plus the
sandbox URLs the test passes through the environment, and no wait before a metrics fetch."""

from nectar_portal.settings.test import *  # noqa: F403
from nectar_portal.settings.test import ZOOM_API_BASE_URL, ZOOM_OAUTH_BASE_URL, env

ZOOM_API_BASE_URL = env.str("ZOOM_API_BASE_URL", default=ZOOM_API_BASE_URL)
ZOOM_OAUTH_BASE_URL = env.str("ZOOM_OAUTH_BASE_URL", default=ZOOM_OAUTH_BASE_URL)
ZOOM_METRICS_FETCH_DELAY_SECONDS = 0
