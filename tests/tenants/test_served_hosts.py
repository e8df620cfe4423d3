"""Which hosts the portal serves: staff hosts (DJANGO_ALLOWED_HOSTS) and tenants' hostnames.

Each test runs with the production host settings: `ALLOWED_HOSTS` as nectar_portal.settings.base
builds it, and staff hosts that do not include the customers' hostnames.
"""

import pytest
from django.core.checks import run_checks
from django.test import Client

from nectar_portal.settings import base as base_settings
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

STAFF_HOST = "staff.portal.example"


@pytest.fixture(autouse=True)
def production_hosts(settings):
    settings.ALLOWED_HOSTS = list(base_settings.ALLOWED_HOSTS)
    settings.PORTAL_STAFF_HOSTS = [STAFF_HOST, "localhost"]
    settings.DEBUG = True  # an unknown host must get a plain page, never a debug page
    return settings


def test_a_hostname_staff_add_is_served_at_once(admin_client):
    tenant = TenantFactory(slug="acme", primary_domain=None)
    assert Client().get("/adminapi/zoom/oauth/start",
                        HTTP_HOST="zoom.acme.example").status_code == 404
    # Staff add the hostname on the tenant's page, on a staff host...
    response = admin_client.post(f"/admin/tenants/tenant/{tenant.pk}/change/", {
        "name": tenant.name, "slug": tenant.slug, "is_active": "on", "zoom_plan": "business",
        "sync_interval_hours": "24", "notes": "", "client_id": tenant.client_id,
        "client_secret": "", "secret_token": "", "verification_token": "",
        "installation_url": "",
        "domains-TOTAL_FORMS": "1", "domains-INITIAL_FORMS": "0", "domains-MIN_NUM_FORMS": "0",
        "domains-MAX_NUM_FORMS": "1000", "domains-0-domain": "zoom.acme.example",
        "domains-0-is_primary": "on",
        "staff_accesses-TOTAL_FORMS": "0", "staff_accesses-INITIAL_FORMS": "0",
        "staff_accesses-MIN_NUM_FORMS": "0", "staff_accesses-MAX_NUM_FORMS": "1000",
    }, HTTP_HOST=STAFF_HOST)
    assert response.status_code == 302, response.content[:2000]
    # ...and the customer's link works on it with no settings change or restart.
    start = Client().get("/adminapi/zoom/oauth/start", HTTP_HOST="Zoom.Acme.Example:443")
    assert start.status_code == 302
    assert start["Location"].startswith("https://zoom.us/oauth/authorize?")


def test_unknown_hosts_get_a_plain_400_or_404():
    TenantFactory(slug="acme")
    page = Client().get("/", HTTP_HOST="evil.example")
    assert page.status_code == 400
    assert page["Content-Type"].startswith("text/plain")
    assert b"evil.example" not in page.content and b"Traceback" not in page.content
    event = Client().post("/zoom/event", b"{}", content_type="application/json",
                          HTTP_HOST="evil.example")
    assert event.status_code == 404
    assert event["Content-Type"].startswith("text/plain")


def test_the_admin_is_served_on_staff_hosts_only(admin_client):
    TenantFactory(slug="acme")
    assert admin_client.get("/admin/", HTTP_HOST=STAFF_HOST).status_code == 200
    assert admin_client.get("/admin/", HTTP_HOST="acme.portal.test").status_code == 404
    assert Client().get("/admin/login/", HTTP_HOST="acme.portal.test").status_code == 404
    # Staff hosts match like ALLOWED_HOSTS: port dropped, case ignored.
    assert admin_client.get("/admin/", HTTP_HOST="STAFF.portal.example:8443").status_code == 200


def test_probes_answer_on_any_host():
    assert Client().get("/healthz", HTTP_HOST="10.0.0.7:8000").status_code == 200


def test_an_open_host_check_without_the_middleware_first_stops_start_up(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE
                           if not m.endswith("HostValidationMiddleware")]
    errors = [e.id for e in run_checks(tags=["security"])]
    assert "portal_security.E001" in errors
