"""Housekeeping for the security side: expired sessions are removed on a schedule.

Each customer's `/adminapi/zoom/oauth/start` stores its OAuth `state` and PKCE verifier in a
session that lives only as long as the state (ten minutes); this hourly job deletes such rows
once expired, so anonymous visitors cannot grow the session table without bound.
"""

from importlib import import_module

from celery import shared_task
from django.conf import settings


@shared_task(name="portal_security.tasks.sessions_clear_expired")
def sessions_clear_expired() -> None:
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
