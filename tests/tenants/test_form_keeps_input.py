"""The tenant form never silently loses a secret staff typed into it.

After a failed submit (a wrong field, a hostname another tenant owns) each secret that was typed
is flagged "Not saved ... Paste it again"; the stored-secrets panel reads the database, not the
rejected post; the Add form offers no "clear" boxes or stored values, since nothing is stored.
"""

import pytest

from tests.factories import TenantFactory

from .test_admin import SECRET, TOKEN, change_data, form_data

pytestmark = pytest.mark.django_db


def test_a_failed_add_flags_each_typed_secret_as_not_saved(admin_client):
    TenantFactory(slug="other", primary_domain=None).domains.create(domain="acme.portal.test")
    response = admin_client.post("/admin/tenants/tenant/add/", form_data())
    assert response.status_code == 200  # refused: the hostname is taken
    form = response.context["adminform"].form
    for name in ("client_secret", "secret_token"):
        assert "Paste it again" in " ".join(form.errors[name])
    html = response.content.decode()
    assert SECRET not in html and TOKEN not in html
    # Fixing only the hostname and submitting without the secrets is visibly different now:
    # nothing claims they are stored.
    assert "set, ends in" not in html


def test_the_add_form_shows_only_what_makes_sense_before_anything_is_stored(admin_client):
    html = admin_client.get("/admin/tenants/tenant/add/").content.decode()
    assert 'name="clear_client_secret"' not in html
    assert "Leave blank to keep it" not in html
    assert "Stored secrets" not in html


def test_the_stored_secrets_panel_reads_the_database_after_a_failed_change(admin_client):
    tenant = TenantFactory(slug="acme")
    stored_hint = tenant.secret_token[-4:]
    response = admin_client.post(f"/admin/tenants/tenant/{tenant.pk}/change/", change_data(
        tenant, secret_token="BrandNewTokenNotSaved9999", sync_interval_hours="0"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"set, ends in …{stored_hint}" in html
    assert "…9999" not in html
    assert "Paste it again" in html
