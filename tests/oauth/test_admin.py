"""The tenant admin's Zoom connection section, actions and buttons (Django test client)."""

from urllib.parse import parse_qs

import pytest
import responses
from django.contrib.admin.sites import site
from django.urls import reverse

from tenants.models import Tenant
from zoom_integration.admin.tenant import ZoomTenantAdmin
from zoom_integration.capabilities import connection_capabilities_apply
from zoom_integration.models import ConnectionState, ZoomConnection

from .conftest import ME_URL, REVOKE_URL, connect, me_body

pytestmark = pytest.mark.django_db


def test_tenant_admin_is_the_zoom_subclass():
    assert isinstance(site._registry[Tenant], ZoomTenantAdmin)


def test_change_page_shows_connection_and_customer_link_but_no_token(admin_client, tenant):
    conn = connect(tenant)
    connection_capabilities_apply(conn, scope="user:read:admin group:read:admin",
                                  keep_refused=False)
    conn.save()
    response = admin_client.get(reverse("admin:tenants_tenant_change", args=[tenant.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Connected" in page and "Aq7Zp1" in page
    assert "The app lacks scopes dashboard_meetings:read:admin, dashboard_webinars:read:admin" \
        in page
    assert "optional, not granted: dashboard_home:read:admin" in page
    assert f"https://{tenant.slug}.portal.test/adminapi/zoom/oauth/start" in page
    assert "Test connection" in page and "Revoke" in page
    assert "access-old" not in page and "refresh-old" not in page


def test_changelist_shows_each_state(admin_client, tenant):
    connect(tenant, state=ConnectionState.NEEDS_REAUTH)
    page = admin_client.get(reverse("admin:tenants_tenant_changelist")).content.decode()
    assert "Needs re-authorization" in page


@responses.activate
def test_test_connection_button_reports_the_account(admin_client, tenant):
    connect(tenant)
    responses.add(responses.GET, ME_URL, json=me_body())
    url = reverse("admin:tenants_tenant_zoom_test", args=[tenant.pk])
    assert admin_client.get(url).status_code == 405
    response = admin_client.post(url, follow=True)
    assert "connection works; Zoom account Aq7Zp1" in response.content.decode()
    assert responses.calls[0].request.headers["Authorization"] == "Bearer access-old"


def test_test_connection_action_warns_when_not_connected(admin_client, tenant):
    response = admin_client.post(reverse("admin:tenants_tenant_changelist"), {
        "action": "test_zoom_connection", "_selected_action": [tenant.pk]}, follow=True)
    assert "needs re-authorization" in response.content.decode()


@responses.activate
def test_revoke_action_calls_zoom_and_clears_tokens(admin_client, tenant):
    connect(tenant)
    responses.add(responses.POST, REVOKE_URL, json={"status": "success"})
    response = admin_client.post(reverse("admin:tenants_tenant_changelist"), {
        "action": "revoke_zoom_connection", "_selected_action": [tenant.pk]}, follow=True)
    assert "revoked and tokens deleted" in response.content.decode()
    assert parse_qs(responses.calls[0].request.body) == {"token": ["access-old"]}
    conn = ZoomConnection.objects.get(tenant=tenant)
    assert conn.state == ConnectionState.NOT_CONNECTED and conn.access_token == ""


@responses.activate
def test_revoke_button_requires_change_permission(client, django_user_model, tenant):
    connect(tenant)
    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    from django.contrib.auth.models import Permission

    user.user_permissions.add(Permission.objects.get(codename="view_tenant"))
    from portal_security.access import tenant_access_grant

    tenant_access_grant(user=user, tenant=tenant, can_change=False)  # may see it, not change it
    client.force_login(user)
    response = client.post(reverse("admin:tenants_tenant_zoom_revoke", args=[tenant.pk]))
    assert response.status_code == 403
    assert len(responses.calls) == 0
    assert ZoomConnection.objects.get(tenant=tenant).refresh_token == "refresh-old"


def test_the_verification_token_is_shown_as_retired(admin_client, tenant):
    page = admin_client.get(reverse("admin:tenants_tenant_change", args=[tenant.pk]))
    assert "Retired by Zoom (2025)" in page.content.decode()
