"""Fixtures for the workers' tests: a connected tenant and fast retries."""

from datetime import timedelta

import pytest
from django.utils import timezone

API = "https://api.zoom.us/v2"


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    # No real waiting in unit tests: backoff of 0 s, per-second 429s not waited out in-process
    # beyond what a test asks for.
    settings.ZOOM_HTTP_BACKOFF_SECONDS = 0
    settings.ZOOM_HTTP_MAX_RETRIES = 3
    settings.ZOOM_METRICS_FETCH_DELAY_SECONDS = 0
    settings.ZOOM_API_BASE_URL = API


@pytest.fixture
def connected(tenant):
    """The tenant with a connection whose access token is valid for an hour (no refresh)."""
    from zoom_integration.models import ConnectionState, ZoomConnection

    ZoomConnection.objects.create(
        tenant=tenant, state=ConnectionState.CONNECTED, access_token="tok-1",
        refresh_token="ref-1", access_token_expires_at=timezone.now() + timedelta(hours=1))
    tenant.zoom_account_id = f"acct-{tenant.pk}"
    tenant.save(update_fields=["zoom_account_id"])
    return tenant
