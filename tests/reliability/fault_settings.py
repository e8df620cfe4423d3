"""Settings for the processes the fault tests start (web server, workers, helper scripts).

The test settings, plus the Zoom URLs and HTTP timeouts from the environment so the processes
reach the sandbox the test runs.
"""

from nectar_portal.settings.test import *  # noqa: F403
from nectar_portal.settings.test import env

ZOOM_OAUTH_BASE_URL = env.str("ZOOM_OAUTH_BASE_URL", default="https://zoom.us").rstrip("/")
ZOOM_API_BASE_URL = env.str("ZOOM_API_BASE_URL",
                            default="https://api.zoom.us/v2").rstrip("/")
ZOOM_HTTP_TIMEOUT = (env.float("ZOOM_HTTP_CONNECT_TIMEOUT", default=5.0),
                     env.float("ZOOM_HTTP_READ_TIMEOUT", default=20.0))
ZOOM_METRICS_FETCH_DELAY_SECONDS = env.int("ZOOM_METRICS_FETCH_DELAY_SECONDS", default=0)
CELERY_TASK_ALWAYS_EAGER = False
