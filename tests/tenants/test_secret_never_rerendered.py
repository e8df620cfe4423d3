"""A secret typed into the tenant form never comes back in the page, even when the form is
re-shown with a validation error (the usual way a password input leaks: `render_value=True`)."""

import html
from urllib.parse import quote

import pytest

from tenants.forms import SECRET_FIELDS, TenantAdminForm
from tenants.models import Tenant
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

# Distinctive values that cannot appear in the page by chance.
TYPED = {
    "client_secret": "TypedClientSecret-7Qx9Lm2Zp4Vw8Rt1",
    "secret_token": "TypedSecretToken-Hk3Jd6Fs9Ga2Pq5W",
    "verification_token": "TypedVerifyToken-Nb4Mc7Xz1Yv6Ut3E",
}


def add_data(**overrides):
    data = {
        "name": "Acme", "slug": "acme", "is_active": "on", "zoom_plan": "business",
        "sync_interval_hours": "24", "notes": "", "client_id": "AbCdEfGhIjKlMnOp1234",
        "client_secret": "", "secret_token": "", "verification_token": "",
        "installation_url": "",
        "domains-TOTAL_FORMS": "1", "domains-INITIAL_FORMS": "0",
        "domains-MIN_NUM_FORMS": "0", "domains-MAX_NUM_FORMS": "1000",
        "domains-0-domain": "acme.portal.test", "domains-0-is_primary": "on",
        "staff_accesses-TOTAL_FORMS": "0", "staff_accesses-INITIAL_FORMS": "0",
        "staff_accesses-MIN_NUM_FORMS": "0", "staff_accesses-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def change_data(tenant, **overrides):
    domain = tenant.domains.get()
    return add_data(**{
        "name": tenant.name, "slug": tenant.slug, "client_id": tenant.client_id,
        "domains-INITIAL_FORMS": "1", "domains-0-id": str(domain.pk),
        "domains-0-tenant": str(tenant.pk), "domains-0-domain": domain.domain, **overrides})


def assert_absent(page: str, secret: str) -> None:
    for form in {secret, html.escape(secret), quote(secret), secret[len(secret) // 2:]}:
        assert form not in page, f"the typed secret came back in the page ({form!r})"


# Errors in another field, in the secret field itself, and in the inline hostnames.
ERRORS = {
    "blank name": {"name": ""},
    "bad slug": {"slug": "Not A Slug!"},
    "bad installation url": {"installation_url": "javascript:alert(1)"},
    "no primary hostname": {"domains-0-is_primary": ""},
}


@pytest.mark.parametrize("secret_field", SECRET_FIELDS)
@pytest.mark.parametrize("error", ERRORS)
def test_add_form_with_an_error_does_not_echo_the_typed_secret(admin_client, secret_field,
                                                               error):
    response = admin_client.post("/admin/tenants/tenant/add/",
                                 add_data(**{secret_field: TYPED[secret_field]}, **ERRORS[error]))
    assert response.status_code == 200  # re-shown with the error, nothing saved
    assert response.context["errors"]  # the admin's list of form and inline errors
    assert not Tenant.objects.filter(slug="acme").exists()
    assert_absent(response.content.decode(), TYPED[secret_field])


@pytest.mark.parametrize("secret_field", SECRET_FIELDS)
@pytest.mark.parametrize("error", ERRORS)
def test_change_form_with_an_error_echoes_neither_typed_nor_stored_secret(admin_client,
                                                                         secret_field, error):
    tenant = TenantFactory(verification_token="StoredVerifyToken-Aa1Bb2Cc3Dd4Ee5F")
    stored = getattr(tenant, secret_field)
    assert stored
    response = admin_client.post(
        f"/admin/tenants/tenant/{tenant.pk}/change/",
        change_data(tenant, **{secret_field: TYPED[secret_field]}, **ERRORS[error]))
    assert response.status_code == 200 and response.context["errors"]
    page = response.content.decode()
    assert_absent(page, TYPED[secret_field])
    assert_absent(page, stored)
    tenant.refresh_from_db()
    assert getattr(tenant, secret_field) == stored  # nothing saved


@pytest.mark.parametrize("secret_field", SECRET_FIELDS)
def test_an_error_on_the_secret_itself_does_not_echo_it(admin_client, secret_field):
    tenant = TenantFactory(verification_token="StoredVerifyToken-Aa1Bb2Cc3Dd4Ee5F")
    # A new value and "clear" together: the error sits on the secret's own input.
    response = admin_client.post(
        f"/admin/tenants/tenant/{tenant.pk}/change/",
        change_data(tenant, **{secret_field: TYPED[secret_field], f"clear_{secret_field}": "on"}))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors[secret_field]
    assert_absent(response.content.decode(), TYPED[secret_field])


@pytest.mark.parametrize("secret_field", SECRET_FIELDS)
def test_bound_secret_inputs_render_empty(secret_field):
    """The form alone, without the admin around it: a bound, invalid form renders no value."""
    form = TenantAdminForm(data=add_data(name="", **{secret_field: TYPED[secret_field]}))
    assert not form.is_valid()
    rendered = str(form[secret_field])
    assert 'type="password"' in rendered
    assert "value=" not in rendered
    assert TYPED[secret_field] not in str(form.as_div())
