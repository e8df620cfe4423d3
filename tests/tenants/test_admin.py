"""Staff enter a customer's Zoom app in the admin: write-only secrets, clear validation, URLs."""

import pytest
from django.contrib.admin.models import LogEntry

from tenants.models import Tenant
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

SECRET = "ClientSecretValue0123456789"
TOKEN = "SecretTokenValueABCDEF1234"


def form_data(**overrides):
    data = {
        "name": "Acme", "slug": "acme", "is_active": "on", "zoom_plan": "business",
        "sync_interval_hours": "24", "notes": "",
        "client_id": "AbCdEfGhIjKlMnOp1234", "client_secret": SECRET, "secret_token": TOKEN,
        "verification_token": "", "installation_url": "",
        "domains-TOTAL_FORMS": "1", "domains-INITIAL_FORMS": "0",
        "domains-MIN_NUM_FORMS": "0", "domains-MAX_NUM_FORMS": "1000",
        "domains-0-domain": "acme.portal.test", "domains-0-is_primary": "on",
        # The staff-access inline (superusers only) posts an empty management form.
        "staff_accesses-TOTAL_FORMS": "0", "staff_accesses-INITIAL_FORMS": "0",
        "staff_accesses-MIN_NUM_FORMS": "0", "staff_accesses-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def change_data(tenant, **overrides):
    domain = tenant.domains.get()
    data = form_data(**{
        "name": tenant.name, "slug": tenant.slug, "client_id": tenant.client_id,
        "client_secret": "", "secret_token": "",
        "domains-INITIAL_FORMS": "1", "domains-0-id": str(domain.pk),
        "domains-0-tenant": str(tenant.pk), "domains-0-domain": domain.domain,
    })
    data.update(overrides)
    return data


def test_add_tenant_then_change_page_shows_three_urls_and_no_secret(admin_client):
    response = admin_client.post("/admin/tenants/tenant/add/", form_data())
    assert response.status_code == 302, response.context["adminform"].form.errors
    tenant = Tenant.objects.get(slug="acme")
    assert tenant.client_secret == SECRET

    page = admin_client.get(f"/admin/tenants/tenant/{tenant.pk}/change/").content.decode()
    assert "https://acme.portal.test/adminapi/zoom/oauth/authorize" in page
    assert 'data-copy="https://acme.portal.test"' in page
    assert "https://acme.portal.test/zoom/event" in page
    assert SECRET not in page and TOKEN not in page
    assert "set, ends in …6789" in page
    # Nor the ciphertext.
    assert "gAAAAA" not in page


def test_blank_secret_keeps_stored_value_and_clear_removes_it(admin_client):
    tenant = TenantFactory(slug="acme", client_secret=SECRET, secret_token=TOKEN)
    url = f"/admin/tenants/tenant/{tenant.pk}/change/"
    response = admin_client.post(url, change_data(tenant, notes="called them"))
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.client_secret == SECRET and tenant.notes == "called them"

    response = admin_client.post(url, change_data(tenant, clear_secret_token="on"))
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.secret_token == "" and tenant.client_secret == SECRET


def test_history_names_changed_fields_never_values(admin_client):
    tenant = TenantFactory(slug="acme", client_secret=SECRET)
    new_secret = "BrandNewSecret987654321"
    admin_client.post(f"/admin/tenants/tenant/{tenant.pk}/change/",
                      change_data(tenant, client_secret=new_secret))
    entry = LogEntry.objects.filter(object_id=str(tenant.pk)).latest("action_time")
    message = entry.get_change_message()
    assert "Client Secret" in message
    assert new_secret not in entry.change_message and SECRET not in entry.change_message


@pytest.mark.parametrize("field, value, message", [
    ("client_id", "has spaces in it", "A Zoom Client ID is 10 to 64 letters"),
    ("client_secret", "short", "does not look like a Zoom credential"),
    ("installation_url", "http://zoom.us/oauth/authorize?client_id=AbCdEfGhIjKlMnOp1234",
     "must start with https://"),
    ("installation_url", "https://example.com/oauth/authorize?client_id=AbCdEfGhIjKlMnOp1234",
     "must be Zoom&#x27;s https://zoom.us/oauth/authorize"),
    ("installation_url", "https://zoom.us/oauth/authorize?client_id=SomeOtherClient99",
     "but this tenant&#x27;s Client ID is"),
    ("domains-0-domain", "https://acme.test/", "Enter a hostname only"),
])
def test_validation_messages(admin_client, field, value, message):
    response = admin_client.post("/admin/tenants/tenant/add/", form_data(**{field: value}))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Tenant.objects.exists()


def test_duplicate_hostname_is_refused(admin_client):
    TenantFactory(slug="first")
    response = admin_client.post("/admin/tenants/tenant/add/",
                                 form_data(**{"domains-0-domain": "First.Portal.Test"}))
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert not Tenant.objects.filter(slug="acme").exists()


def test_one_primary_hostname_required(admin_client):
    response = admin_client.post("/admin/tenants/tenant/add/",
                                 form_data(**{"domains-0-is_primary": ""}))
    assert response.status_code == 200
    assert "Mark one hostname as primary" in response.content.decode()


def test_change_page_warns_when_no_webhook_secret_is_set(admin_client):
    tenant = TenantFactory(slug="acme", secret_token="", verification_token="")
    page = admin_client.get(f"/admin/tenants/tenant/{tenant.pk}/change/").content.decode()
    assert "No Secret Token is set" in page
    tenant = TenantFactory(slug="other")
    page = admin_client.get(f"/admin/tenants/tenant/{tenant.pk}/change/").content.decode()
    assert "No Secret Token is set" not in page
