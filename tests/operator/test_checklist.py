"""The per-tenant setup checklist: exact values, states detected from data, permissions."""

import re

import pytest
from django.utils import timezone

from tests.factories import (
    MeetingFactory,
    SyncRunFactory,
    TenantDomainFactory,
    TenantFactory,
    ZoomConnectionFactory,
    ZoomUserFactory,
    ZoomWebhookDeliveryFactory,
)
from zoom_integration.capabilities import connection_capabilities_apply
from zoom_integration.models import ConnectionState, DeliveryStatus, SyncRun
from zoom_integration.selectors.checklist import StepState, setup_checklist

pytestmark = pytest.mark.django_db

ORDER = ["create_app", "credentials", "redirect_url", "allow_list", "descriptions",
         "event_subscription", "secret_token", "scopes", "installation_url", "authorize",
         "events", "users_synced", "dashboard"]


def states(tenant):
    return {step.key: step.state for step in setup_checklist(tenant=tenant)}


def url(tenant, suffix=""):
    return f"/admin/zoom_integration/tenanthealth/{tenant.pk}/checklist/{suffix}"


def test_steps_in_order_with_this_tenants_values(tenant):
    TenantDomainFactory(tenant=tenant, domain="hooks.acme.test", is_webhook=True)
    steps = setup_checklist(tenant=tenant)
    assert [s.key for s in steps] == ORDER
    assert [s.number for s in steps] == list(range(1, len(ORDER) + 1))
    values = {v.label: v.value for s in steps for v in s.values}
    host = f"{tenant.slug}.portal.test"
    assert values["Redirect URL for OAuth"] == f"https://{host}/adminapi/zoom/oauth/authorize"
    assert values["OAuth allow list"] == f"https://{host}"
    assert values["Event notification endpoint URL"] == "https://hooks.acme.test/zoom/event"
    assert values["Authorization link"] == f"https://{host}/adminapi/zoom/oauth/start"
    events = next(s for s in steps if s.key == "event_subscription").items
    assert events[:5] == ("End Meeting (meeting.ended)", "End Webinar (webinar.ended)",
                          "User has been created (user.created)",
                          "User has been deleted (user.deleted)",
                          "User's profile info has been updated (user.updated)")
    for event in ("user.activated", "user.deactivated", "user.disassociated", "group.created",
                  "group.updated", "group.deleted", "group.member_added",
                  "group.member_deleted"):
        assert any(item.endswith(f"({event})") for item in events), event
    # Before any authorization the app is taken to be new: granular names, classic as a note.
    step = next(s for s in steps if s.key == "scopes")
    scopes = [v.value for v in step.values]
    assert "dashboard:read:list_meeting_participants_qos:admin" in scopes
    assert "user:read:list_users:admin" in scopes and "group:read:list_members:admin" in scopes
    assert "dashboard_meetings:read:admin" not in scopes
    assert any("dashboard_meetings:read:admin" in item for item in step.items)
    secret = next(s for s in steps if s.key == "secret_token")
    assert "retired by Zoom (2025)" in secret.instructions


def test_states_move_as_data_appears():
    tenant = TenantFactory(client_id="", client_secret="", secret_token="")
    s = states(tenant)
    assert s["create_app"] == s["credentials"] == s["secret_token"] == StepState.TODO
    assert s["descriptions"] == StepState.MANUAL
    assert all(s[k] == StepState.TODO for k in ("event_subscription", "authorize", "events",
                                                 "users_synced", "dashboard"))

    tenant.client_id, tenant.client_secret = "clientIdAbc123456", "clientSecretXyz0987654"
    tenant.secret_token = "secretTokenQwe1234567"
    tenant.save()
    s = states(tenant)
    assert s["create_app"] == s["credentials"] == s["secret_token"] == StepState.DONE

    conn = ZoomConnectionFactory(tenant=tenant, state=ConnectionState.NOT_CONNECTED,
                                 authorized_at=None, endpoint_validated_at=timezone.now(),
                                 scopes="")
    s = states(tenant)
    assert s["event_subscription"] == StepState.DONE
    assert s["authorize"] == s["redirect_url"] == s["scopes"] == StepState.TODO

    conn.state, conn.authorized_at = ConnectionState.CONNECTED, timezone.now()
    # A classic app without the webinar Dashboard scope: named in classic names.
    connection_capabilities_apply(conn, keep_refused=False, scope=(
        "user:read:admin group:read:admin dashboard_meetings:read:admin"))
    conn.save()
    tenant.zoom_account_id = "Aq7Zp1"
    tenant.save()
    steps = {step.key: step for step in setup_checklist(tenant=tenant)}
    assert steps["redirect_url"].state == steps["allow_list"].state == StepState.DONE
    assert steps["scopes"].state == StepState.PROBLEM
    assert "dashboard_webinars:read:admin" in steps["scopes"].detail
    assert "webinar participants' QoS" in steps["scopes"].detail
    assert "dashboard_home:read:admin" in steps["scopes"].detail  # optional, said so
    assert "dashboard_webinars:read:admin" in [v.value for v in steps["scopes"].values]
    assert steps["authorize"].state == StepState.PROBLEM
    assert "Aq7Zp1" in steps["authorize"].detail

    connection_capabilities_apply(conn, keep_refused=False, scope=(
        "user:read:admin group:read:admin dashboard_meetings:read:admin "
        "dashboard_webinars:read:admin"))
    conn.save()
    assert states(tenant)["authorize"] == StepState.DONE
    assert states(tenant)["scopes"] == StepState.DONE

    ZoomWebhookDeliveryFactory(tenant=tenant, event="user.updated",
                               status=DeliveryStatus.PROCESSED)
    SyncRunFactory(tenant=tenant, status=SyncRun.Status.SUCCEEDED)
    ZoomUserFactory.create_batch(4, tenant=tenant)
    steps = {step.key: step for step in setup_checklist(tenant=tenant)}
    assert steps["events"].state == StepState.DONE and "user.updated" in steps["events"].detail
    assert steps["users_synced"].state == StepState.DONE
    assert "4 users" in steps["users_synced"].detail
    assert steps["dashboard"].state == StepState.TODO

    MeetingFactory(tenant=tenant, fetch_status="done")
    assert states(tenant)["dashboard"] == StepState.DONE
    conn.dashboard_available = False
    conn.save()
    assert states(tenant)["dashboard"] == StepState.PROBLEM


def test_failed_sync_is_a_problem(tenant):
    ZoomConnectionFactory(tenant=tenant)
    SyncRunFactory(tenant=tenant, status=SyncRun.Status.FAILED, error="Zoom 500")
    step = next(s for s in setup_checklist(tenant=tenant) if s.key == "users_synced")
    assert step.state == StepState.PROBLEM and "Zoom 500" in step.detail


def test_no_hostname_means_no_values_but_a_hint():
    tenant = TenantFactory(primary_domain=None)
    step = next(s for s in setup_checklist(tenant=tenant) if s.key == "redirect_url")
    assert step.values[0].value is None and "primary hostname" in step.values[0].missing


def test_checklist_page_shows_values_with_copy_buttons(staff_client, tenant,
                                                       django_assert_max_num_queries):
    ZoomConnectionFactory(tenant=tenant)
    ZoomWebhookDeliveryFactory.create_batch(5, tenant=tenant, status=DeliveryStatus.PROCESSED)
    client = staff_client("zoom_integration.view_tenanthealth")
    with django_assert_max_num_queries(16):  # a constant: no query per event or step
        response = client.get(url(tenant))
    assert response.status_code == 200
    html = response.content.decode()
    redirect = f"https://{tenant.slug}.portal.test/adminapi/zoom/oauth/authorize"
    assert f'data-copy="{redirect}"' in html
    assert f'data-copy="https://{tenant.slug}.portal.test/zoom/event"' in html
    assert "portal/copy.js" in html
    assert 'id="step-event_subscription"' in html and "End Webinar" in html
    assert url(tenant, "print/") in html
    # no link the user may not follow
    assert f"/admin/tenants/tenant/{tenant.pk}/change/" not in html


def test_print_version_has_no_admin_chrome(staff_client, tenant):
    client = staff_client("zoom_integration.view_tenanthealth")
    response = client.get(url(tenant, "print/"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"https://{tenant.slug}.portal.test/adminapi/zoom/oauth/authorize" in html
    assert 'id="header"' not in html and "breadcrumbs" not in html and "logout" not in html
    assert "Events arrive" not in html  # portal-side checks are not the customer's steps


@pytest.mark.parametrize("suffix", ["", "print/"])
def test_checklist_needs_the_view_permission(staff_client, tenant, suffix):
    client = staff_client("tenants.view_tenant", "zoom_integration.view_zoommeeting")
    assert client.get(url(tenant, suffix)).status_code == 403


def test_unknown_tenant_is_404(staff_client):
    client = staff_client("zoom_integration.view_tenanthealth")
    assert client.get("/admin/zoom_integration/tenanthealth/999999/checklist/").status_code == 404
    assert client.get("/admin/zoom_integration/tenanthealth/abc/checklist/").status_code == 404


def test_change_page_redirects_to_the_checklist(staff_client, tenant):
    client = staff_client("zoom_integration.view_tenanthealth")
    response = client.get(f"/admin/zoom_integration/tenanthealth/{tenant.pk}/change/")
    assert response.status_code == 302 and response["Location"].endswith(url(tenant))


def test_no_secret_in_any_operator_page(admin_client):
    tenant = TenantFactory(client_secret="clientSecretVERYsecret99",
                           secret_token="secretTokenVERYsecret77",
                           verification_token="verifTokenVERYsecret55")
    conn = ZoomConnectionFactory(tenant=tenant)
    meeting = MeetingFactory(tenant=tenant)
    secrets = [tenant.client_secret, tenant.secret_token, tenant.verification_token,
               conn.access_token, conn.refresh_token]
    pages = [url(tenant), url(tenant, "print/"), "/admin/zoom_integration/tenanthealth/",
             "/admin/zoom_integration/zoommeeting/",
             f"/admin/zoom_integration/zoommeeting/{meeting.pk}/change/",
             "/admin/zoom_integration/zoommeeting/csv/"]
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page
        body = b"".join(response.streaming_content) if response.streaming else response.content
        text = body.decode()
        for secret in secrets:
            assert secret not in text, page
            assert secret[-4:] + "<" not in text  # not even the admin's "ends in" hint
        assert not re.search(r"gAAAAA[\w-]{20,}", text), page  # nor any ciphertext


def test_staff_see_only_granted_tenants(staff_client):
    mine, theirs = TenantFactory(name="Mine Co"), TenantFactory(name="Theirs Co")
    client = staff_client("zoom_integration.view_tenanthealth", tenants=[mine])
    html = client.get("/admin/zoom_integration/tenanthealth/").content.decode()
    assert "Mine Co" in html and "Theirs Co" not in html
    assert client.get(url(mine)).status_code == 200
    assert client.get(url(theirs)).status_code == 403
    assert client.get(url(theirs, "print/")).status_code == 403


def test_refused_deliveries_show_on_the_events_step(tenant):
    from zoom_integration.models import WebhookRejection

    ZoomConnectionFactory(tenant=tenant)
    WebhookRejection.objects.create(tenant=tenant, reason="bad_signature",
                                    day=timezone.now().date(), count=7, last_at=timezone.now())
    step = next(s for s in setup_checklist(tenant=tenant) if s.key == "events")
    assert step.state == StepState.PROBLEM
    assert "7 × bad_signature" in step.detail and "Secret Token" in step.detail


def test_synced_users_are_counted_in_the_right_form(tenant):
    ZoomConnectionFactory(tenant=tenant)
    SyncRunFactory(tenant=tenant, status=SyncRun.Status.SUCCEEDED)
    ZoomUserFactory(tenant=tenant)
    step = next(s for s in setup_checklist(tenant=tenant) if s.key == "users_synced")
    assert step.detail.endswith("; 1 user.")
