"""Fixtures for the operations tests: a connected tenant, Zoom faked, the scrape token set."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

API = "https://api.zoom.us/v2"
TOKEN = "scrape-token-for-tests-0123456789"  # noqa: S105


@pytest.fixture(autouse=True)
def _ops_settings(settings):
    settings.PORTAL_METRICS_TOKEN = TOKEN
    settings.ZOOM_API_BASE_URL = API
    settings.ZOOM_OAUTH_BASE_URL = "https://zoom.us"
    settings.ZOOM_HTTP_BACKOFF_SECONDS = 0
    settings.ZOOM_METRICS_FETCH_DELAY_SECONDS = 0


@pytest.fixture
def connected(connected):
    """tests/conftest.py's connected tenant, authorized a day ago."""
    conn = connected.zoom_connection
    conn.authorized_at = timezone.now() - timedelta(days=1)
    conn.save(update_fields=["authorized_at"])
    return connected


def scrape(client, host: str = "localhost") -> str:
    response = client.get("/metrics", headers={"host": host,
                                               "authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a scrape, keyed by (sample name, its labels)."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(scraped: dict, name: str, **labels) -> float | None:
    return scraped.get((name, frozenset(labels.items())))
