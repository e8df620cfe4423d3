"""Fixtures for the workers' tests: fast retries against a faked Zoom (the connected tenant
is tests/conftest.py's `connected`)."""

import pytest

API = "https://api.zoom.us/v2"


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    # No real waiting in unit tests: backoff of 0 s, per-second 429s not waited out in-process
    # beyond what a test asks for.
    settings.ZOOM_HTTP_BACKOFF_SECONDS = 0
    settings.ZOOM_HTTP_MAX_RETRIES = 3
    settings.ZOOM_METRICS_FETCH_DELAY_SECONDS = 0
    settings.ZOOM_API_BASE_URL = API
