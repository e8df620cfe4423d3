"""A request's Host selects its tenant; the URLs handed to the customer come from hostnames."""

import pytest

from tenants.selectors import normalize_host, tenant_get_by_host, tenant_zoom_urls
from tests.factories import TenantDomainFactory, TenantFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("header, expected", [
    ("Acme.Portal.Test", "acme.portal.test"),
    ("acme.portal.test:8443", "acme.portal.test"),
    ("acme.portal.test.", "acme.portal.test"),
    ("[::1]:8000", "[::1]"),
])
def test_normalize_host_drops_port_and_case(header, expected):
    assert normalize_host(header) == expected


def test_host_lookup_ignores_port_and_case():
    tenant = TenantFactory(slug="acme")
    assert tenant_get_by_host(host="ACME.portal.test:8000") == tenant
    assert tenant_get_by_host(host="other.portal.test") is None


def test_urls_use_primary_host_and_webhook_host(settings):
    settings.PORTAL_URL_SCHEME = "https"
    tenant = TenantFactory(slug="acme")
    urls = tenant_zoom_urls(tenant=tenant)
    assert urls.redirect_url == "https://acme.portal.test/adminapi/zoom/oauth/authorize"
    assert urls.allow_list_url == "https://acme.portal.test"
    assert urls.event_url == "https://acme.portal.test/zoom/event"
    TenantDomainFactory(tenant=tenant, domain="hooks.acme.test", is_webhook=True)
    assert tenant_zoom_urls(tenant=tenant).event_url == "https://hooks.acme.test/zoom/event"


def test_unknown_host_gets_404_on_tenant_urls(client):
    TenantFactory(slug="acme")
    response = client.get("/adminapi/zoom/oauth/start", HTTP_HOST="nobody.portal.test")
    assert response.status_code == 404
    response = client.post("/zoom/event", data=b"{}", content_type="application/json",
                           HTTP_HOST="nobody.portal.test")
    assert response.status_code == 404
