"""A day of one tenant, then a scrape of /metrics: each counter at the value the day implies.

The day: three signed deliveries (one a Zoom retry of another) and one with a bad signature, a
directory sync after the access token expired (one refresh), the meeting's dashboard fetch that
meets one per-second 429, a call refused for a missing scope (4711), and a refresh Zoom answers
invalid_grant. Zoom is faked with `responses`; database and Redis are real.
"""

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from observability.metrics import CELERY_TASKS
from zoom_integration.capabilities import capability_state
from zoom_integration.client import ZoomClient
from zoom_integration.exceptions import ReauthorizationRequiredError, ZoomAPIError
from zoom_integration.models import ZoomConnection, ZoomMeeting
from zoom_integration.oauth import access_token_get
from zoom_integration.zoom import CAPABILITIES

from .conftest import API, samples, scrape, value

pytestmark = pytest.mark.django_db

UUID = "mtgUUID1=="
MEETING = f"{API}/metrics/meetings/mtgUUID1%3D%3D"
TOKEN_URL = "https://zoom.us/oauth/token"  # noqa: S105
# Every scope the portal asks for but one: the refresh leaves one capability missing.
# A classic app without "View groups": two capabilities (list groups, list members) missing.
GRANTED = " ".join(sorted({name for c in CAPABILITIES for name in c.classic}
                          - {"group:read:admin"}))


def signed(secret_token: str, body: bytes) -> dict:
    ts = str(int(time.time()))
    digest = hmac.new(secret_token.encode(), b"v0:" + ts.encode() + b":" + body,
                      hashlib.sha256).hexdigest()
    return {"x-zm-request-timestamp": ts, "x-zm-signature": f"v0={digest}",
            "x-zm-trackingid": "v=2.0;clid=aw1;rid=WEB_0123"}


def deliver(client, tenant, obj: dict, headers: dict | None = None):
    body = json.dumps(obj, separators=(",", ":")).encode()
    return client.post("/zoom/event", body, content_type="application/json",
                       headers={"host": f"{tenant.slug}.portal.test",
                                **(headers or signed(tenant.secret_token, body))})


def user_created(tenant) -> dict:
    return {"event": "user.created", "event_ts": 1717000000123,
            "payload": {"account_id": tenant.zoom_account_id,
                        "object": {"id": "U77", "email": "ana@cust.example", "type": 1}}}


def meeting_ended(tenant) -> dict:
    return {"event": "meeting.ended", "event_ts": 1717000900000,
            "payload": {"account_id": tenant.zoom_account_id,
                        "object": {"uuid": UUID, "id": 86012345678, "topic": "Weekly",
                                   "host_id": "U77", "start_time": "2026-05-29T09:00:00Z",
                                   "end_time": "2026-05-29T09:45:00Z"}}}


def serve_zoom():
    responses.post(TOKEN_URL, json={"access_token": "tok-2", "refresh_token": "ref-2",
                                    "expires_in": 3599, "token_type": "bearer",
                                    "scope": GRANTED})
    responses.get(f"{API}/groups", json={"groups": [{"id": "G1", "name": "Sales"}]})
    responses.get(f"{API}/users", json={"users": [{"id": "U77", "email": "ana@cust.example",
                                                   "status": "active", "group_ids": ["G1"]}],
                                        "next_page_token": ""})
    # The dashboard: one per-second 429 first (waited out in the client), then the data.
    responses.get(MEETING, status=429, json={"code": 429, "message": "Too many requests"},
                  headers={"Retry-After": "0", "X-RateLimit-Type": "QPS"})
    responses.get(MEETING, json={"uuid": UUID, "id": 86012345678, "topic": "Weekly",
                                 "participants": 1, "start_time": "2026-05-29T09:00:00Z",
                                 "end_time": "2026-05-29T09:45:00Z"})
    responses.get(f"{MEETING}/participants", json={"participants": [
        {"id": "U77", "user_id": "16778240", "user_name": "Ana",
         "join_time": "2026-05-29T09:00:10Z", "leave_time": "2026-05-29T09:44:00Z"}],
        "next_page_token": ""})
    responses.get(f"{MEETING}/participants/qos", json={"participants": [
        {"id": "U77", "user_id": "16778240", "user_name": "Ana", "user_qos": [
            {"date_time": "2026-05-29T09:01:00Z",
             "audio_input": {"bitrate": "27 kbps", "latency": "40 ms", "jitter": "3 ms",
                             "avg_loss": "0.1%", "max_loss": "1%"}}]}],
        "next_page_token": ""})
    responses.get(f"{API}/users/U404", status=400, json={
        "code": 4711,
        "message": "Invalid access token, does not contain scopes:[user:read:admin]."})


def celery_count(task: str, outcome: str) -> float:
    return CELERY_TASKS.labels(task=task, outcome=outcome)._value.get()


@responses.activate
def test_each_counter_matches_the_day(connected, client, django_capture_on_commit_callbacks):
    tenant = connected
    serve_zoom()
    ZoomConnection.objects.filter(tenant=tenant).update(
        access_token_expires_at=timezone.now() - timedelta(minutes=1))
    webhook_task = "zoom_integration.tasks.webhook_delivery_process"
    fetch_task = "zoom_integration.tasks.metrics_fetch"
    before = {t: celery_count(t, "succeeded") for t in (webhook_task, fetch_task)}

    # Deliveries: processing (and the meeting's fetch) run eagerly once each delivery commits.
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, tenant, user_created(tenant)).status_code == 200
        assert deliver(client, tenant, user_created(tenant)).status_code == 200  # Zoom's retry
        bad = {"x-zm-request-timestamp": str(int(time.time())), "x-zm-signature": "v0=00"}
        assert deliver(client, tenant, user_created(tenant), bad).status_code == 401
        assert deliver(client, tenant, meeting_ended(tenant)).status_code == 200
    assert ZoomMeeting.objects.get(tenant=tenant).fetch_status == "done"

    from zoom_integration.directory import zoom_directory_sync

    zoom_directory_sync(tenant=tenant)
    with ZoomClient(tenant) as zoom, pytest.raises(ZoomAPIError):
        zoom.user_get("U404")

    midday = samples(scrape(client))
    last_event = value(midday, "portal_tenant_last_event_timestamp_seconds", tenant=tenant.slug)
    assert last_event == pytest.approx(time.time(), abs=120)
    assert value(midday, "portal_tenant_missing_capabilities", tenant=tenant.slug) == len(
        capability_state(scope=GRANTED).missing) == 2

    # The refresh token dies: the next refresh is answered invalid_grant.
    responses.post(TOKEN_URL, status=400, json={"error": "invalid_grant",
                                                "reason": "Invalid Token!"})
    ZoomConnection.objects.filter(tenant=tenant).update(
        access_token_expires_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(ReauthorizationRequiredError):
        access_token_get(tenant=tenant)

    got = samples(scrape(client))
    slug = tenant.slug

    def counter(name, **labels):
        return value(got, f"{name}_total", tenant=slug, **labels)

    assert counter("portal_webhook_deliveries_accepted") == 3
    assert counter("portal_webhook_deliveries_stored") == 2
    assert counter("portal_webhook_deliveries_refused", reason="bad_signature") == 1
    assert counter("portal_webhook_deliveries_processed", outcome="processed") == 2
    # Sync: /groups and /users for each of three statuses (Medium); the fetch: detail twice
    # (the 429, then 200), participants, QoS (Heavy); the missing scope (Light).
    assert counter("portal_zoom_api_calls", category="Medium", status="200") == 4
    assert counter("portal_zoom_api_calls", category="Heavy", status="200") == 3
    assert counter("portal_zoom_api_calls", category="Heavy", status="429") == 1
    assert counter("portal_zoom_api_calls", category="Light", status="4711") == 1
    assert counter("portal_zoom_token_refreshes", outcome="ok") == 1
    assert counter("portal_zoom_token_refreshes", outcome="reauthorization_required") == 1
    assert counter("portal_metrics_fetches", outcome="done") == 1
    assert value(got, "portal_metrics_stored_delay_seconds_count", tenant=slug) == 1
    assert value(got, "portal_tenant_health", tenant=slug, health="needs_reauth") == 1
    assert value(got, "portal_webhook_deliveries_pending", tenant=slug) == 0
    assert value(got, "portal_webhook_oldest_pending_age_seconds", tenant=slug) == 0
    # Needing re-authorization, the tenant is reported by its health, not its scopes.
    assert value(got, "portal_tenant_missing_capabilities", tenant=slug) == 0
    assert value(got, "portal_metrics_source_up", source="database") == 1
    assert value(got, "portal_metrics_source_up", source="broker") == 1
    for queue in ("default", "webhooks", "sync", "metrics"):
        assert value(got, "portal_celery_queue_length", queue=queue) == 0
    assert celery_count(webhook_task, "succeeded") - before[webhook_task] == 2
    assert celery_count(fetch_task, "succeeded") - before[fetch_task] == 1
    # django-prometheus' HTTP basics are in the same scrape.
    assert any(name == "django_http_requests_total_by_method_total" for name, _ in got)
