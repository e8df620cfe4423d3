"""Scheduled token refresh: keeps every connected tenant's access token ahead of expiry.

Zoom access tokens last an hour; refreshing them on a schedule means callers rarely
refresh inline, and the rotating refresh token (single use, replaced on every refresh) is
used regularly even for quiet tenants.
The refresh itself goes through `oauth.access_token_get`'s locked path, so it never races a
worker.
"""

from celery import shared_task

__all__ = ["tokens_refresh_due_task"]

@shared_task(name="zoom_integration.tasks.tokens_refresh_due")
def tokens_refresh_due_task(within_seconds: int = 1200) -> dict:
    """Refreshes tokens expiring within `within_seconds` (beat runs it every 10 minutes,
    schedules.py, so a token is refreshed at least twice before it lapses)."""
    from zoom_integration.oauth import tokens_refresh_due

    return tokens_refresh_due(within_seconds=within_seconds)
