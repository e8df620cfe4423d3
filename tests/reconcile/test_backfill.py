"""Backfill on connect: the first authorization (or one after a gap) queues the last
ZOOM_BACKFILL_DAYS days; the queued run finds what Zoom listed; progress is on the tenant."""

import base64
import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest
import responses
from django.utils import timezone

from tests.factories import SyncRunFactory
from zoom_integration.models import ZoomMeeting, ZoomReconcileState
from zoom_integration.queueing import RECONCILE_TENANT
from zoom_integration.reconcile import reconcile_tenant_attempt

from .conftest import API, row, today

pytestmark = pytest.mark.django_db

TOKEN_URL = "https://zoom.us/oauth/token"


def authorize(client, tenant):
    """The Installation URL flow's callback with Zoom's token and /users/me answers.

    The directory counts as synced already, so the only work the authorization queues on
    commit is the reconcile's (the first directory sync has tests of its own)."""
    SyncRunFactory(tenant=tenant)
    responses.add(responses.POST, TOKEN_URL, json={
        "access_token": "acc-1", "token_type": "bearer", "refresh_token": "ref-1",
        "expires_in": 3599, "scope": "dashboard_meetings:read:admin"})
    responses.add(responses.GET, f"{API}/users/me", json={
        "id": "U1", "account_id": "Acct1", "email": "admin@cust.example"})
    response = client.get("/adminapi/zoom/oauth/authorize?" + urlencode({"code": "c0de"}),
                          HTTP_HOST=f"{tenant.slug}.portal.test", secure=True)
    assert response.status_code == 302  # connected: on to the done page


def queued_messages(redis_client, queue="sync"):
    """The task messages waiting on the broker's queue (kombu's Redis list), decoded."""
    out = []
    for raw in redis_client.lrange(queue, 0, -1):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        out.append((message["headers"]["task"], args))
    return out


@responses.activate
def test_first_authorization_queues_a_backfill_that_finds_the_week(
        client, tenant, settings, redis_client, django_capture_on_commit_callbacks):
    settings.ZOOM_BACKFILL_DAYS = 7
    with django_capture_on_commit_callbacks(execute=True):
        authorize(client, tenant)
    state = ZoomReconcileState.objects.get(tenant=tenant)
    assert state.backfill_days == 7 and state.job_origin == "backfill"
    assert {(p["kind"], p["from"], p["to"]) for p in state.pending} == {
        (kind, (today() - timedelta(days=7)).isoformat(), today().isoformat())
        for kind in ("meeting", "webinar")}
    assert (state.job_done, state.job_total) == (0, 2)
    # Queued by name on the broker, with the tenant's id only.
    assert queued_messages(redis_client) == [(RECONCILE_TENANT, [tenant.pk])]

    # The worker's run: the meetings of the week that no event announced are found.
    responses.get(f"{API}/metrics/meetings", json={"meetings": [
        row("old-1", days_ago=6), row("new-1", days_ago=0)]})
    responses.get(f"{API}/metrics/webinars", json={"webinars": []})
    with django_capture_on_commit_callbacks() as fetches:
        outcome = reconcile_tenant_attempt(tenant_id=tenant.pk)
    assert outcome == {"status": "done", "listed": 2, "missing": 2, "queued": 2, "skipped": 0}
    assert len(fetches) == 2
    lists = [c.request.url for c in responses.calls if "/metrics/" in c.request.url]
    assert len(lists) == 2  # the scheduled day is inside the backfill: not listed again
    state.refresh_from_db()
    assert (state.job_done, state.job_total, state.pending) == (2, 2, [])
    assert set(ZoomMeeting.objects.values_list("uuid", flat=True)) == {"old-1", "new-1"}


@responses.activate
def test_reauthorizing_without_a_gap_queues_nothing(client, tenant, redis_client,
                                                    django_capture_on_commit_callbacks):
    ZoomReconcileState.objects.create(tenant=tenant, last_complete_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        authorize(client, tenant)
    assert queued_messages(redis_client) == []
    assert ZoomReconcileState.objects.get(tenant=tenant).pending == []


@responses.activate
def test_reauthorizing_after_a_gap_backfills_the_gap(client, tenant, settings,
                                                     django_capture_on_commit_callbacks):
    settings.ZOOM_BACKFILL_DAYS = 7
    ZoomReconcileState.objects.create(
        tenant=tenant, last_complete_at=timezone.now() - timedelta(days=2, hours=5))
    with django_capture_on_commit_callbacks(execute=False):
        authorize(client, tenant)
    state = ZoomReconcileState.objects.get(tenant=tenant)
    assert state.backfill_days == 3
    assert {p["from"] for p in state.pending} == {(today() - timedelta(days=3)).isoformat()}


@responses.activate
def test_a_backfill_failure_never_breaks_the_authorization(client, tenant, monkeypatch):
    from zoom_integration import backfill

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(backfill, "reconcile_backfill_request", broken)
    authorize(client, tenant)  # still a success page
    assert tenant.zoom_connection.state == "connected"
