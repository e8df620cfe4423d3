"""The receiver's one statement on a persistent connection: no health-check round trip before
it, and a connection that died since its last use (a database restart) is replaced and the
delivery still stored."""

import logging

import pytest
from django.db import close_old_connections, connection
from django.test import Client

from tenants.host_cache import tenant_for_host
from zoom_integration.models import ZoomWebhookDelivery

from .test_receive import URL, compact, host_of, signed_headers, user_created

# Outside the test's transaction, as a request in production runs: the receiver's insert
# commits on its own, on a connection kept between requests.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def persistent(monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", True)
    checks = []
    real = connection.is_usable

    def counted():  # calls through: only counts how often Django asks
        checks.append(1)
        return real()

    monkeypatch.setattr(connection, "is_usable", counted)
    yield checks
    connection.close()


def deliver(client, tenant, host: str, user_id: str):
    body = compact(user_created(user_id=user_id))
    headers = signed_headers(tenant.secret_token, body)
    # What Django's WSGI handler does as every request starts (its test client leaves it out):
    # a kept connection is marked for a health check before its next query.
    close_old_connections()
    return client.post(URL, body, content_type="application/json",
                       headers={"host": host, **headers})


def warm(host: str) -> None:
    """The hot path: the tenant in the process's host cache (warm within seconds of the last
    delivery; processing in the tests' eager mode clears it)."""
    tenant_for_host(host)


def test_a_delivery_costs_no_health_check_round_trip(tenant, persistent):
    client, host = Client(), host_of(tenant)
    assert deliver(client, tenant, host, "first").status_code == 200  # opens the connection
    warm(host)
    persistent.clear()
    assert deliver(client, tenant, host, "second").status_code == 200
    assert persistent == []  # Django's per-request "SELECT 1" was not sent
    assert ZoomWebhookDelivery.objects.filter(tenant=tenant).count() == 2


def test_a_connection_that_died_is_replaced_and_the_delivery_stored(tenant, persistent, caplog):
    client, host = Client(), host_of(tenant)
    assert deliver(client, tenant, host, "before").status_code == 200
    warm(host)
    connection.connection.close()  # as a database restart leaves a kept connection
    with caplog.at_level(logging.WARNING, logger="zoom_integration.webhooks.receive"):
        assert deliver(client, tenant, host, "after").status_code == 200
    assert ZoomWebhookDelivery.objects.filter(tenant=tenant, body__contains='"after"').count() == 1
    # Operators search for this line after a database restart: its wording is part of the job.
    assert [r.getMessage() for r in caplog.records
            if r.name == "zoom_integration.webhooks.receive"] == [
        "webhook store: the database connection had closed; reconnecting"]
