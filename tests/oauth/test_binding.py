"""Which Zoom account a tenant may be bound to, and how staff undo a binding.

Staff can name the Zoom account they expect (admin field, or `zoom_account_id` in
tenant_upsert's stdin JSON). Then a callback from any other account, with or without `state`,
is refused with a 4xx page, its fresh tokens are revoked at Zoom, and nothing is bound. A
superuser's "Disconnect and forget the Zoom account" action lets another account bind, and is
recorded in the tenant's history.
"""

import io
import json
from urllib.parse import parse_qs

import pytest
import responses
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import Client

from portal_security.access import tenant_access_grant
from tenants.models import Tenant
from zoom_integration.models import ConnectionState, ZoomConnection

from .conftest import REVOKE_URL, connect, me_body
from .test_flow import CODE, callback, start, zoom_answers

pytestmark = pytest.mark.django_db


@responses.activate
def test_installation_url_callback_from_an_unexpected_account_binds_nothing(client, tenant):
    tenant.expected_zoom_account_id = "Expected1"
    tenant.save()
    zoom_answers(me=me_body(account_id="Intruder9"))
    responses.add(responses.POST, REVOKE_URL, json={"status": "success"})

    response = callback(client, tenant, code=CODE)  # no state: the Installation URL flow

    assert response.status_code == 403
    assert b"not the one this portal expects" in response.content
    tenant.refresh_from_db()
    assert tenant.zoom_account_id == ""
    assert not ZoomConnection.objects.filter(tenant=tenant).exclude(
        access_token="").exists()
    (revoke,) = [c for c in responses.calls if c.request.url == REVOKE_URL]
    assert parse_qs(revoke.request.body) == {"token": ["access-new-1"]}


@responses.activate
def test_state_callback_from_an_unexpected_account_is_refused_too(client, tenant):
    tenant.expected_zoom_account_id = "Expected1"
    tenant.save()
    state = start(client, tenant)["state"][0]
    zoom_answers(me=me_body(account_id="Intruder9"))
    responses.add(responses.POST, REVOKE_URL, json={"status": "success"})
    assert callback(client, tenant, code=CODE, state=state).status_code == 403
    assert not ZoomConnection.objects.filter(tenant=tenant,
                                             state=ConnectionState.CONNECTED).exists()


@responses.activate
def test_the_expected_account_connects(client, tenant):
    tenant.expected_zoom_account_id = "Expected1"
    tenant.save()
    zoom_answers(me=me_body(account_id="Expected1"))
    assert callback(client, tenant, code=CODE).status_code == 302
    tenant.refresh_from_db()
    assert tenant.zoom_account_id == "Expected1"


def test_tenant_upsert_takes_the_expected_account_from_stdin_json(tenant):
    out = io.StringIO()
    call_command("tenant_upsert", "--slug", tenant.slug,
                 stdin=io.StringIO(json.dumps({"zoom_account_id": "Expected1"})), stdout=out)
    tenant.refresh_from_db()
    assert tenant.expected_zoom_account_id == "Expected1"
    assert "expected Zoom account: Expected1" in out.getvalue()


def test_staff_set_the_expected_account_on_the_tenant_page(admin_client, tenant):
    page = admin_client.get(f"/admin/tenants/tenant/{tenant.pk}/change/").content.decode()
    assert 'name="expected_zoom_account_id"' in page


@responses.activate
def test_superusers_disconnect_and_forget_the_account_then_another_binds(admin_client,
                                                                        client, tenant):
    connect(tenant, account_id="Wrong1")
    responses.add(responses.POST, REVOKE_URL, json={"status": "success"})
    response = admin_client.post("/admin/tenants/tenant/", {
        "action": "forget_zoom_account", "_selected_action": [tenant.pk]}, follow=True)
    assert response.status_code == 200
    tenant.refresh_from_db()
    assert tenant.zoom_account_id == ""
    conn = ZoomConnection.objects.get(tenant=tenant)
    assert (conn.state, conn.access_token, conn.refresh_token) == (
        ConnectionState.NOT_CONNECTED, "", "")
    entry = LogEntry.objects.get(object_id=str(tenant.pk))
    assert "forgot Zoom account Wrong1" in entry.get_change_message()
    history = admin_client.get(f"/admin/tenants/tenant/{tenant.pk}/history/").content.decode()
    assert "forgot Zoom account Wrong1" in history

    zoom_answers(me=me_body(account_id="Right2"))
    assert callback(client, tenant, code=CODE).status_code == 302
    tenant.refresh_from_db()
    assert tenant.zoom_account_id == "Right2"


def test_only_superusers_get_the_forget_action(tenant):
    user = User.objects.create_user("changer", password="pw-123456789", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(
        codename__in=("view_tenant", "change_tenant")))
    tenant_access_grant(user=user, tenant=tenant, can_change=True)
    staff = Client()
    staff.force_login(user)
    assert b"forget_zoom_account" not in staff.get("/admin/tenants/tenant/").content
    connect(tenant, account_id="Kept1")
    staff.post("/admin/tenants/tenant/", {"action": "forget_zoom_account",
                                          "_selected_action": [tenant.pk]})
    assert Tenant.objects.get(pk=tenant.pk).zoom_account_id == "Kept1"


def test_an_anonymous_oauth_start_leaves_no_lasting_session(client, tenant):
    from django.utils import timezone

    start(client, tenant)
    (session,) = Session.objects.all()
    # The row lives as long as the state (ten minutes), then the hourly job removes it.
    assert (session.expire_date - timezone.now()).total_seconds() <= 600
    Session.objects.update(expire_date=timezone.now())
    from portal_security.tasks import sessions_clear_expired

    sessions_clear_expired()
    assert not Session.objects.exists()
