"""Against the Zoom sandbox over real HTTP (a live portal receiving its signed events): granular
and classic apps, a missing scope from consent to resumed work, every user and group event, and a
delivery signed 30 minutes ago.

Tasks run eagerly here (test settings), so a delivery is processed, and a fetch it queues is run,
inside the portal's answer to the sandbox.
"""

import hashlib
import hmac
import json
import time
from io import StringIO

import pytest
import requests
from django.core.management import call_command
from django.urls import reverse

from tenants.models import TenantDomain
from tests.factories import TenantFactory
from zoom_integration import oauth
from zoom_integration.models import (
    SyncRun,
    ZoomConnection,
    ZoomGroup,
    ZoomGroupMembership,
    ZoomMeeting,
    ZoomUser,
    ZoomWebhookDelivery,
)
from zoom_integration.models.metrics import FetchStatus
from zoom_integration.selectors.checklist import setup_checklist
from zoom_integration.selectors.health import HealthCode, tenant_health
from zoom_sandbox.testing import running_sandbox

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

QOS = "dashboard:read:list_meeting_participants_qos:admin"


@pytest.fixture
def zoom(settings, live_server):
    with running_sandbox(users=12, groups=2, meetings=0, webinars=0) as sandbox:
        settings.ZOOM_API_BASE_URL = sandbox.api_base_url
        settings.ZOOM_OAUTH_BASE_URL = sandbox.base_url
        sandbox.live_url = live_server.url
        yield sandbox


def tenant_for(zoom, **app_fields):
    """A tenant with its own sandbox app (granular unless told), events sent to the portal."""
    tenant = TenantFactory()
    TenantDomain.objects.create(tenant=tenant, domain="localhost", is_webhook=True)
    app = zoom.register_app(
        client_id=tenant.client_id, client_secret=tenant.client_secret,
        secret_token=tenant.secret_token, event_url=f"{zoom.live_url}/zoom/event",
        redirect_uri=f"https://{tenant.slug}.portal.test/adminapi/zoom/oauth/authorize",
        **app_fields)
    assert zoom.validate_url(app["client_id"])["ok"] is True
    return tenant, app


def authorize(zoom, tenant, app):
    """The customer authorizes (Installation URL flow), as often as the test needs."""
    code = zoom.authorization_code(app["client_id"])
    return oauth.authorization_complete(tenant=tenant, session={}, query={"code": code})


def control(zoom, path, body, method="POST"):
    answer = requests.request(method, f"{zoom.base_url}/_sandbox/{path}", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def status_report(tenant) -> dict:
    out = StringIO()
    call_command("zoom_status", tenant.slug, "--json", stdout=out)
    (entry,) = json.loads(out.getvalue().strip().splitlines()[-1])
    return entry


def wait_for(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def end_meeting(zoom, app, tenant) -> ZoomMeeting:
    ended = zoom.end_meeting(client_id=app["client_id"], participants=6, minutes=3)
    uuid = ended["event"]["payload"]["object"]["uuid"]
    assert wait_for(lambda: ZoomMeeting.objects.filter(
        tenant=tenant, uuid=uuid).exclude(fetch_status__in=[
            FetchStatus.SCHEDULED, FetchStatus.FETCHING]).exists())
    return ZoomMeeting.objects.get(tenant=tenant, uuid=uuid)


def test_granular_app_reaches_healthy_with_nothing_missing(zoom):
    tenant, app = tenant_for(zoom)  # the sandbox's default: a 2026 app, granular scopes
    result = authorize(zoom, tenant, app)
    assert result.scope_kind == "granular"
    assert result.missing_scopes == [] and result.optional_missing_scopes == []
    health = tenant_health(tenant=tenant)
    assert health.code == HealthCode.HEALTHY, health.reason
    assert status_report(tenant)["health"] == "connected"
    assert status_report(tenant)["missing_scopes"] == []
    meeting = end_meeting(zoom, app, tenant)
    assert meeting.fetch_status == FetchStatus.DONE and meeting.qos_samples > 0


def test_classic_app_still_works_end_to_end(zoom):
    tenant, app = tenant_for(zoom, scope_kind="classic")
    result = authorize(zoom, tenant, app)
    assert result.scope_kind == "classic" and result.missing_scopes == []
    assert tenant_health(tenant=tenant).code == HealthCode.HEALTHY
    from zoom_integration.directory import zoom_directory_sync

    runs = zoom_directory_sync(tenant=tenant)
    assert all(run.status == SyncRun.Status.SUCCEEDED for run in runs)
    assert ZoomUser.objects.filter(tenant=tenant).count() == 12
    assert end_meeting(zoom, app, tenant).fetch_status == FetchStatus.DONE


def test_missing_scope_is_named_everywhere_then_cleared_and_the_parked_fetch_resumes(zoom,
                                                                                       admin_client):
    tenant, app = tenant_for(zoom)
    control(zoom, f"apps/{app['client_id']}/scopes", {"remove": [QOS]})
    result = authorize(zoom, tenant, app)
    assert result.missing_scopes == [QOS]

    # Health, the tenant page, the checklist and zoom_status name it, in granular names.
    health = tenant_health(tenant=tenant)
    assert health.code == HealthCode.MISSING_SCOPES and QOS in health.reason
    page = admin_client.get(reverse("admin:tenants_tenant_change", args=[tenant.pk]))
    assert f"The app lacks scope {QOS}: add it in Zoom, then authorize again" in \
        page.content.decode()
    scopes_step = {s.key: s for s in setup_checklist(tenant=tenant)}["scopes"]
    assert scopes_step.state == "problem" and QOS in scopes_step.detail
    assert status_report(tenant) | {"reason": ""} == status_report(tenant) | {
        "health": "missing_scopes", "missing_scopes": [QOS], "reason": "",
        "zoom_account_id": app["account_id"]}

    # Zoom refuses the QoS call with 4711: the fetch is parked, not failed.
    meeting = end_meeting(zoom, app, tenant)
    assert meeting.fetch_status == FetchStatus.NO_SCOPE
    assert QOS in meeting.last_error and "authorize again" in meeting.last_error
    refused = zoom.stats()["endpoints"]
    assert any(key.endswith("/participants/qos") for key in refused)

    # The customer adds the scope in Zoom, then authorizes again.
    control(zoom, f"apps/{app['client_id']}/scopes", {"add": [QOS]})
    assert authorize(zoom, tenant, app).missing_scopes == []
    conn = ZoomConnection.objects.get(tenant=tenant)
    assert conn.missing_scopes == "" and conn.missing_capabilities == ""
    assert tenant_health(tenant=tenant).code == HealthCode.HEALTHY
    assert status_report(tenant)["missing_scopes"] == []
    assert wait_for(lambda: ZoomMeeting.objects.get(pk=meeting.pk).fetch_status
                    == FetchStatus.DONE)
    assert ZoomMeeting.objects.get(pk=meeting.pk).qos_samples > 0


def test_every_user_and_group_event_changes_the_directory(zoom):
    from zoom_integration.directory import zoom_directory_sync

    tenant, app = tenant_for(zoom)
    authorize(zoom, tenant, app)
    zoom_directory_sync(tenant=tenant)
    users = list(ZoomUser.objects.filter(tenant=tenant, status="active").order_by("pk")[:4])
    first, second, third, fourth = (u.zoom_id for u in users)
    sb = zoom.sandbox

    def delivered():
        assert zoom.wait_deliveries(15)

    def user(zoom_id):
        return ZoomUser.objects.get(tenant=tenant, zoom_id=zoom_id)

    created = sb.create_user(client_id=app["client_id"], email="new.person@example.com",
                             first_name="New", last_name="Person")
    delivered()
    assert user(created["user"]["id"]).email == "new.person@example.com"

    sb.user_status(first, "deactivate")
    delivered()
    assert user(first).status == "inactive"
    sb.user_status(first, "activate")
    delivered()
    assert user(first).status == "active"
    sb.user_status(second, "disassociate")
    delivered()
    assert user(second).deleted_at is not None

    group = sb.create_group(client_id=app["client_id"], name="Night shift")["group"]
    delivered()
    assert ZoomGroup.objects.get(tenant=tenant, zoom_id=group["id"]).name == "Night shift"
    sb.update_group(group["id"], name="Late shift")
    delivered()
    assert ZoomGroup.objects.get(tenant=tenant, zoom_id=group["id"]).name == "Late shift"
    sb.group_members(group["id"], [third, fourth], member=True)
    delivered()
    members = ZoomGroupMembership.objects.filter(group__zoom_id=group["id"])
    assert set(members.values_list("user__zoom_id", flat=True)) == {third, fourth}
    assert ZoomGroup.objects.get(tenant=tenant, zoom_id=group["id"]).total_members == 2
    sb.group_members(group["id"], [third], member=False)
    delivered()
    assert set(members.values_list("user__zoom_id", flat=True)) == {fourth}
    sb.delete_group(group["id"])
    delivered()
    assert ZoomGroup.objects.get(tenant=tenant, zoom_id=group["id"]).deleted_at is not None
    assert not members.exists()

    events = dict(ZoomWebhookDelivery.objects.filter(tenant=tenant)
                  .values_list("event", "status"))
    for event in ("user.created", "user.activated", "user.deactivated", "user.disassociated",
                  "group.created", "group.updated", "group.deleted", "group.member_added",
                  "group.member_deleted"):
        assert events.get(event) == "processed", (event, events.get(event))


def test_a_delivery_signed_30_minutes_ago_is_accepted_once(zoom):
    tenant, app = tenant_for(zoom)
    authorize(zoom, tenant, app)
    zoom.configure(retry_timestamp="original")  # a retry re-sends the first timestamp
    user = zoom.sandbox.world.user(zoom.sandbox.oauth.apps[app["client_id"]].account, 3)
    obj = {k: user[k] for k in ("id", "first_name", "last_name", "email", "type")}

    sent = zoom.send_event(event="user.deactivated", client_id=app["client_id"], object=obj,
                           age_seconds=1800)
    assert zoom.wait_deliveries(15)
    (delivery,) = zoom.deliveries("user.deactivated")
    assert delivery["state"] == "delivered"
    assert delivery["attempts"][0]["status"] == 200
    assert int(delivery["attempts"][0]["timestamp"]) == sent["timestamp"] <= time.time() - 1790
    stored = ZoomWebhookDelivery.objects.get(tenant=tenant, event="user.deactivated")
    assert stored.status == "processed"
    assert ZoomUser.objects.get(tenant=tenant, zoom_id=obj["id"]).status == "inactive"

    # Zoom retrying it with the original (30-minute-old) timestamp and signature: accepted,
    # and absorbed by dedupe.
    body = delivery["body"].encode()
    timestamp = str(delivery["timestamp"])
    signature = hmac.new(tenant.secret_token.encode(), f"v0:{timestamp}:".encode() + body,
                         hashlib.sha256).hexdigest()
    answer = requests.post(f"{zoom.live_url}/zoom/event", data=body, timeout=10, headers={
        "Content-Type": "application/json", "x-zm-request-timestamp": timestamp,
        "x-zm-signature": f"v0={signature}"})
    assert answer.status_code == 200
    assert ZoomWebhookDelivery.objects.filter(tenant=tenant,
                                              event="user.deactivated").count() == 1

    # Beyond the window (two hours): refused.
    stale = zoom.send_event(event="user.activated", client_id=app["client_id"], object=obj,
                            age_seconds=7200)
    assert stale["timestamp"] < int(time.time()) - 7000
    assert zoom.wait_deliveries(30)
    (refused,) = zoom.deliveries("user.activated")
    assert refused["state"] == "failed"
    assert {a["status"] for a in refused["attempts"]} == {401}
    assert not ZoomWebhookDelivery.objects.filter(tenant=tenant, event="user.activated").exists()
