"""Shared fixtures: PostgreSQL via pytest-django, factories, and a clean Redis db per test."""

import pytest
from django.conf import settings


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
