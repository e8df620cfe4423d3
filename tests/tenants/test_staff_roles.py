"""What each kind of staff user sees and may do on a connected tenant's admin pages.

Roles: a superuser; staff with a grant that may change the tenant; staff with a view-only grant
(who still hold Django's `change_tenant` permission, as support users often do); staff with only
`view_` permissions. No page shows any of them a secret or token in clear, and no write action
acts on a tenant the user may only view.
"""

from __future__ import annotations

import pytest
import responses
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from portal_security.access import tenant_access_grant
from tests.factories import TenantFactory, ZoomWebhookDeliveryFactory
from tests.oauth.conftest import REVOKE_URL, connect
from zoom_integration.models import (
    ConnectionState,
    DeliveryStatus,
    ZoomConnection,
    ZoomWebhookDelivery,
)

pytestmark = pytest.mark.django_db

SECRETS = {
    "client_secret": "ClientSecretPlain0123456789",
    "secret_token": "SecretTokenPlainABCDEF9876",
    "verification_token": "VerifyTokenPlainXYZ5555",
}
ACCESS, REFRESH = "AccessTokenPlain-abcdef-123", "RefreshTokenPlain-uvwxyz-456"
VIEW_PERMS = ("view_tenant", "view_tenanthealth", "view_tenantdirectory", "view_zoomuser",
              "view_zoomgroup", "view_syncrun", "view_zoomwebhookdelivery",
              "view_webhookrejection", "view_zoommeeting")
WRITE_PERMS = ("change_tenant", "delete_tenant", "change_zoomwebhookdelivery")
ROLES = ("superuser", "change_grant", "view_grant", "view_perms_only")


def _user(role: str, tenant) -> User:
    user = User.objects.create_user(role, password="pw-123456789", is_staff=True,
                                    is_superuser=role == "superuser")
    codenames = VIEW_PERMS if role == "view_perms_only" else (*VIEW_PERMS, *WRITE_PERMS)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    if role != "superuser":
        tenant_access_grant(user=user, tenant=tenant, can_change=role == "change_grant")
    return user


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def connected_tenant():
    tenant = TenantFactory(**SECRETS)
    connect(tenant, access=ACCESS, refresh=REFRESH)
    ZoomWebhookDeliveryFactory(tenant=tenant)
    return tenant


def _pages(tenant) -> list[str]:
    pk = tenant.pk
    return [
        "/admin/", "/admin/tenants/tenant/", f"/admin/tenants/tenant/{pk}/change/",
        f"/admin/tenants/tenant/{pk}/history/", f"/admin/tenants/tenant/{pk}/delete/",
        "/admin/tenants/tenant/?q=" + tenant.slug,
        "/admin/zoom_integration/tenanthealth/",
        reverse("admin:zoom_integration_tenanthealth_checklist", args=[pk]),
        reverse("admin:zoom_integration_tenanthealth_checklist_print", args=[pk]),
        "/admin/zoom_integration/tenantdirectory/",
        f"/admin/zoom_integration/tenantdirectory/{pk}/change/",
        "/admin/zoom_integration/zoomwebhookdelivery/",
        "/admin/zoom_integration/zoommeeting/",
        reverse("admin:zoom_integration_zoommeeting_csv"),
    ]


def _assert_no_secret(text: str, where: str) -> None:
    for value in (*SECRETS.values(), ACCESS, REFRESH):
        assert value not in text, f"{value!r} shown on {where}"
    assert "gAAAAA" not in text, f"ciphertext shown on {where}"


@pytest.mark.parametrize("role", ROLES)
def test_no_admin_page_shows_any_role_a_secret_or_token(role, connected_tenant):
    client = _client(_user(role, connected_tenant))
    shown = 0
    for url in _pages(connected_tenant):
        response = client.get(url)
        assert response.status_code in (200, 302, 403), (url, response.status_code)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        _assert_no_secret(body.decode(), url)
        shown += response.status_code == 200
    assert shown >= 10  # the pages were really rendered, not refused
    # The tenant page says a secret is set, never what it is.
    page = client.get(f"/admin/tenants/tenant/{connected_tenant.pk}/change/").content.decode()
    assert "set, ends in …6789" in page
    # The delete action's confirmation page (only those allowed reach it).
    confirm = client.post("/admin/tenants/tenant/", {
        "action": "delete_selected", "_selected_action": [connected_tenant.pk]})
    _assert_no_secret(confirm.content.decode(), "delete confirmation")


@pytest.mark.parametrize("role", ["view_grant", "view_perms_only"])
def test_view_only_users_get_no_secret_inputs_and_no_action_buttons(role, connected_tenant):
    client = _client(_user(role, connected_tenant))
    page = client.get(f"/admin/tenants/tenant/{connected_tenant.pk}/change/").content.decode()
    assert "Stored secrets" in page
    assert "zoom-test/" not in page and "zoom-revoke/" not in page
    assert 'name="client_secret"' not in page


def test_change_grant_users_keep_secret_inputs_and_buttons(connected_tenant):
    client = _client(_user("change_grant", connected_tenant))
    page = client.get(f"/admin/tenants/tenant/{connected_tenant.pk}/change/").content.decode()
    assert 'name="secret_token"' in page and 'type="password"' in page
    assert "zoom-test/" in page and "zoom-revoke/" in page
    _assert_no_secret(page, "change page")


@responses.activate
def test_revoke_action_skips_tenants_the_user_may_only_view(connected_tenant):
    writable = TenantFactory()
    connect(writable, account_id="OtherAcct1")
    user = _user("view_grant", connected_tenant)
    tenant_access_grant(user=user, tenant=writable, can_change=True)
    responses.post(REVOKE_URL, json={"status": "success"})

    response = _client(user).post("/admin/tenants/tenant/", {
        "action": "revoke_zoom_connection",
        "_selected_action": [connected_tenant.pk, writable.pk]}, follow=True)

    assert ZoomConnection.objects.get(tenant=connected_tenant).state == ConnectionState.CONNECTED
    assert ZoomConnection.objects.get(tenant=writable).state == ConnectionState.NOT_CONNECTED
    assert len(responses.calls) == 1  # only the writable tenant's token was revoked at Zoom
    text = " ".join(str(m) for m in response.context["messages"])
    assert f"you may only view: {connected_tenant.name}" in text


@pytest.mark.parametrize("action,url", [
    ("test_zoom_connection", "/admin/tenants/tenant/"),
    ("sync_now", "/admin/tenants/tenant/"),
    ("sync_now", "/admin/zoom_integration/tenantdirectory/"),
])
def test_other_tenant_actions_refuse_view_only_tenants(action, url, connected_tenant,
                                                       django_capture_on_commit_callbacks):
    user = _user("view_grant", connected_tenant)
    with responses.RequestsMock() as zoom, django_capture_on_commit_callbacks() as queued:
        response = _client(user).post(url, {"action": action,
                                             "_selected_action": [connected_tenant.pk]},
                                      follow=True)
        assert len(zoom.calls) == 0
    assert queued == []
    text = " ".join(str(m) for m in response.context["messages"])
    assert "you may only view" in text


def test_process_again_refuses_deliveries_of_view_only_tenants(connected_tenant):
    user = _user("view_grant", connected_tenant)
    delivery = ZoomWebhookDelivery.objects.get(tenant=connected_tenant)
    ZoomWebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED)
    response = _client(user).post("/admin/zoom_integration/zoomwebhookdelivery/", {
        "action": "process_again", "_selected_action": [delivery.pk]}, follow=True)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert "you may only view" in " ".join(str(m) for m in response.context["messages"])


def test_tenant_filters_list_only_the_tenants_the_user_may_see(connected_tenant):
    hidden = TenantFactory(name="Hidden Customer Inc")
    ZoomWebhookDeliveryFactory(tenant=hidden)
    client = _client(_user("view_grant", connected_tenant))
    for url in ("/admin/zoom_integration/zoomwebhookdelivery/",
                "/admin/zoom_integration/webhookrejection/",
                "/admin/zoom_integration/zoomuser/", "/admin/zoom_integration/zoomgroup/",
                "/admin/zoom_integration/syncrun/", "/admin/zoom_integration/zoommeeting/"):
        page = client.get(url).content.decode()
        assert "Hidden Customer Inc" not in page, url
    page = client.get("/admin/zoom_integration/zoomwebhookdelivery/").content.decode()
    assert connected_tenant.name in page
    # Asking for the hidden tenant's rows by id shows none of them.
    listed = client.get(f"/admin/zoom_integration/zoomwebhookdelivery/"
                        f"?tenant__id__exact={hidden.pk}")
    assert "Hidden Customer Inc" not in listed.content.decode()
