"""Shared fixtures: PostgreSQL via pytest-django, factories, a clean Redis db per test, a
connected tenant, and publishing to the real broker for tests that start a real worker."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each test starts with an empty Redis database (the test db only, never db 0)."""
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def redis_client(_clean_redis):
    return _clean_redis


@pytest.fixture
def tenant(db):
    from tests.factories import TenantFactory

    return TenantFactory()


@pytest.fixture
def connected(tenant):
    """The tenant with a connection whose access token is valid for an hour (no refresh), and
    its Zoom account id set. The OAuth and sandbox tests define their own `connected`."""
    from zoom_integration.models import ConnectionState, ZoomConnection

    ZoomConnection.objects.create(
        tenant=tenant, state=ConnectionState.CONNECTED, access_token="tok-1",
        refresh_token="ref-1", access_token_expires_at=timezone.now() + timedelta(hours=1))
    tenant.zoom_account_id = f"acct-{tenant.pk}"
    tenant.save(update_fields=["zoom_account_id"])
    return tenant


@pytest.fixture
def through_broker():
    """This process (and a live server thread) queues tasks on the real broker instead of
    running them eagerly, so a worker subprocess gets them; the Celery config is put back after."""
    from nectar_portal.celery import app as celery_app
    from zoom_integration import queueing

    conf = celery_app.conf
    # Attributes, saved and put back: monkeypatch.setitem on the conf's keys, once undone,
    # leaves CELERY_TASK_ALWAYS_EAGER=True written in, and later tests can no longer turn
    # eager mode off.
    saved = conf.broker_url, conf.task_always_eager
    conf.broker_url, conf.task_always_eager = settings.CELERY_BROKER_URL, False
    queueing.broker_publish_resume()
    yield conf
    conf.broker_url, conf.task_always_eager = saved
    queueing.broker_publish_resume()
