"""Scheduled token refresh: keeps every connected tenant's access token ahead of expiry.

Zoom access tokens last an hour (§1.1); refreshing them on a schedule means callers rarely
refresh inline, and the rotating refresh token (§1.2) is used regularly even for quiet tenants.
The refresh itself goes through `oauth.access_token_get`'s locked path, so it never races a
worker.
"""

from celery import shared_task

__all__ = ["tokens_refresh_due_task"]

# For CELERY_BEAT_SCHEDULE (settings): every 10 minutes, refresh tokens expiring within 20.
BEAT_SCHEDULE = {
    "zoom-tokens-refresh-due": {
        "task": "zoom_integration.tasks.tokens_refresh_due",
        "schedule": 600.0,
        "kwargs": {"within_seconds": 1200},
    },
}


@shared_task(name="zoom_integration.tasks.tokens_refresh_due")
def tokens_refresh_due_task(within_seconds: int = 1200) -> dict:
    from zoom_integration.oauth import tokens_refresh_due

    return tokens_refresh_due(within_seconds=within_seconds)
