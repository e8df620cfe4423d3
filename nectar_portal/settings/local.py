"""Settings for `make run` on a developer's machine: debug on, embedded defaults."""

from .base import *  # noqa: F403
from .base import env

DEBUG = True
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-local-only-secret-key")
# `make run` writes a generated key into .env on first start; this fallback is for manage.py
# invoked by hand before that.
# (An empty FIELD_ENCRYPTION_KEY= line, as copied from .env.example, counts as unset.)
FIELD_ENCRYPTION_KEY = env.list("FIELD_ENCRYPTION_KEY", default=[]) or [
    "bG9jYWwtb25seS1rZXktbmV2ZXItaW4tcHJvZHVjdGk="]
PORTAL_URL_SCHEME = env.str("PORTAL_URL_SCHEME", default="http")

# SQLite is shared by the web server, a worker and beat in `make run`: wait for locks instead of
# failing, and let readers proceed while one process writes.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
    DATABASES["default"]["OPTIONS"] = {  # noqa: F405
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

# The demo fetches metrics soon after a meeting ends (Zoom needs minutes; the sandbox less).
ZOOM_METRICS_FETCH_DELAY_SECONDS = env.int("ZOOM_METRICS_FETCH_DELAY_SECONDS", default=15)
