"""The request path's host → tenant memory: fewer queries, never stale within a process."""

import pytest

from tenants import host_cache
from tenants.host_cache import host_cache_clear, tenant_for_host
from tests.factories import TenantDomainFactory, TenantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    host_cache_clear()
    yield
    host_cache_clear()


def test_second_lookup_makes_no_query(django_assert_num_queries):
    TenantFactory(slug="acme")
    with django_assert_num_queries(1):
        assert tenant_for_host("acme.portal.test").slug == "acme"
    with django_assert_num_queries(0):
        assert tenant_for_host("ACME.portal.test:443").slug == "acme"


def test_callers_get_their_own_copy():
    TenantFactory(slug="acme")
    first = tenant_for_host("acme.portal.test")
    first.name = "changed by one request"
    assert tenant_for_host("acme.portal.test").name != "changed by one request"


def test_saving_a_tenant_or_domain_clears_the_cache():
    tenant = TenantFactory(slug="acme", secret_token="OriginalToken12345")
    assert tenant_for_host("acme.portal.test").secret_token == "OriginalToken12345"
    tenant.secret_token = "RotatedToken678901"
    tenant.save()
    assert tenant_for_host("acme.portal.test").secret_token == "RotatedToken678901"

    assert tenant_for_host("new.acme.test") is None  # remembered as unknown...
    TenantDomainFactory(tenant=tenant, domain="New.Acme.Test")
    assert tenant_for_host("new.acme.test") == tenant  # ...until a domain is added


def test_entries_expire(monkeypatch):
    TenantFactory(slug="acme")
    assert tenant_for_host("acme.portal.test") is not None
    clock = host_cache.time.monotonic() + host_cache.HOST_CACHE_SECONDS + 1
    monkeypatch.setattr(host_cache.time, "monotonic", lambda: clock)
    from tenants.models import TenantDomain

    # Removed behind the cache's back (another process): seen once the entry expires.
    TenantDomain.objects.filter(domain="acme.portal.test").update(domain="gone.portal.test")
    assert tenant_for_host("acme.portal.test") is None
