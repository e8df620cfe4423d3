"""A stored secret that no configured key decrypts is a state staff can see and fix, not a crash.

The tenant list and page render and say "cannot be decrypted with the configured keys:
re-enter it"; the page accepts a new value; the tenant's webhook answers 503 (Zoom retries);
Tenant health and `manage.py check` name it.
"""

import json

import pytest
import responses
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.test import Client

from tenants.fields import UNDECRYPTABLE_HINT, decrypt
from tenants.models import Tenant
from tests.factories import TenantFactory
from tests.oauth.conftest import connect
from zoom_integration.models import ZoomWebhookDelivery

pytestmark = pytest.mark.django_db

UNREADABLE = "gAAAAABnotavalidfernettokenatall0000"
NEW_TOKEN = "FreshSecretToken0123456789"


def break_column(tenant, column="secret_token"):
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE tenants_tenant SET {column} = %s WHERE id = %s",  # noqa: S608
                       [UNREADABLE, tenant.pk])


@pytest.fixture
def broken():
    tenant = TenantFactory(slug="acme")
    connect(tenant)
    break_column(tenant)
    return tenant


def test_the_tenant_list_and_page_render_and_say_what_to_do(admin_client, broken):
    listing = admin_client.get("/admin/tenants/tenant/")
    assert listing.status_code == 200
    assert UNDECRYPTABLE_HINT in listing.content.decode()
    page = admin_client.get(f"/admin/tenants/tenant/{broken.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert f"Secret Token: {UNDECRYPTABLE_HINT}" in text or UNDECRYPTABLE_HINT in text
    assert UNREADABLE not in text
    for url in ("/admin/zoom_integration/tenanthealth/",
                f"/admin/zoom_integration/tenanthealth/{broken.pk}/checklist/",
                "/admin/zoom_integration/tenantdirectory/"):
        assert admin_client.get(url).status_code == 200, url


def test_the_page_accepts_a_new_value_and_keeps_the_others(admin_client, broken):
    domain = broken.domains.get()
    response = admin_client.post(f"/admin/tenants/tenant/{broken.pk}/change/", {
        "name": broken.name, "slug": broken.slug, "is_active": "on", "zoom_plan": "business",
        "sync_interval_hours": "24", "notes": "", "client_id": broken.client_id,
        "client_secret": "", "secret_token": NEW_TOKEN, "verification_token": "",
        "installation_url": "", "expected_zoom_account_id": "",
        "domains-TOTAL_FORMS": "1", "domains-INITIAL_FORMS": "1", "domains-MIN_NUM_FORMS": "0",
        "domains-MAX_NUM_FORMS": "1000", "domains-0-id": str(domain.pk),
        "domains-0-tenant": str(broken.pk), "domains-0-domain": domain.domain,
        "domains-0-is_primary": "on",
        "staff_accesses-TOTAL_FORMS": "0", "staff_accesses-INITIAL_FORMS": "0",
        "staff_accesses-MIN_NUM_FORMS": "0", "staff_accesses-MAX_NUM_FORMS": "1000",
    })
    assert response.status_code == 302, response.context["adminform"].form.errors
    fixed = Tenant.objects.get(pk=broken.pk)
    assert fixed.secret_token == NEW_TOKEN
    assert fixed.client_secret == broken.client_secret  # untouched


def test_a_tenant_with_another_unreadable_secret_can_still_be_saved(admin_client, broken):
    break_column(broken, "client_secret")
    fixed = Tenant.objects.get(pk=broken.pk)
    fixed.secret_token = NEW_TOKEN
    fixed.save()
    with connection.cursor() as cursor:
        cursor.execute("SELECT client_secret, secret_token FROM tenants_tenant WHERE id = %s",
                       [broken.pk])
        client_secret, secret_token = cursor.fetchone()
    assert client_secret == UNREADABLE  # kept as stored, not re-encrypted garbage
    assert decrypt(secret_token) == NEW_TOKEN


def test_the_webhook_answers_503_so_zoom_retries(broken):
    body = json.dumps({"event": "meeting.ended", "payload": {}}).encode()
    response = Client().post("/zoom/event", body, content_type="application/json",
                             HTTP_HOST="acme.portal.test",
                             HTTP_X_ZM_SIGNATURE="v0=abc", HTTP_X_ZM_REQUEST_TIMESTAMP="1")
    assert response.status_code == 503
    assert not ZoomWebhookDelivery.objects.exists()


@responses.activate
def test_the_oauth_callback_shows_a_4xx_page(broken):
    break_column(broken, "client_secret")
    response = Client().get("/adminapi/zoom/oauth/authorize?code=SomeCode123",
                            HTTP_HOST="acme.portal.test")
    assert response.status_code == 409
    assert len(responses.calls) == 0


def test_health_and_check_name_it(admin_client, broken):
    from zoom_integration.selectors.health import tenant_health

    assert "cannot be decrypted" in tenant_health(tenant=broken).reason
    with pytest.raises(SystemCheckError) as excinfo:
        call_command("check")
    assert "tenant 'acme'" in str(excinfo.value) and "secret_token" in str(excinfo.value)
