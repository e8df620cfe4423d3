"""Settings for `make run` on a developer's machine: debug on, embedded defaults."""

from .base import *  # noqa: F403
from .base import env

DEBUG = True
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-local-only-secret-key")
# `make run` writes a generated key into .env on first start; this fallback is for manage.py
# invoked by hand before that.
FIELD_ENCRYPTION_KEY = env.list(
    "FIELD_ENCRYPTION_KEY", default=["bG9jYWwtb25seS1rZXktbmV2ZXItaW4tcHJvZHVjdGk="]
)
PORTAL_URL_SCHEME = env.str("PORTAL_URL_SCHEME", default="http")
