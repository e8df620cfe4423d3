"""Against the Zoom sandbox over real HTTP: a meeting that ended without its event is found by
the backfill after the first authorization and fetched exactly once; the overview page shows
the sandbox's numbers. Needs the top-level `zoom_sandbox` package (its list and overview
endpoints, and ending a meeting without sending the event)."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from zoom_integration import oauth
from zoom_integration.models import ZoomMeeting, ZoomReconcileState
from zoom_integration.models.metrics import FetchStatus
from zoom_integration.overview import overview_fetch
from zoom_integration.reconcile import reconcile_run, reconcile_tenant_attempt

testing = pytest.importorskip("zoom_sandbox.testing")

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def zoom(settings):
    with testing.running_sandbox() as sandbox:
        settings.ZOOM_OAUTH_BASE_URL = sandbox.base_url
        settings.ZOOM_API_BASE_URL = sandbox.api_base_url
        settings.ZOOM_METRICS_FETCH_DELAY_SECONDS = 0
        yield sandbox


def connect(zoom, tenant):
    app = zoom.register_app(
        client_id=tenant.client_id, client_secret=tenant.client_secret,
        redirect_uri=f"https://{tenant.slug}.portal.test/adminapi/zoom/oauth/authorize")
    code = zoom.authorization_code(app["client_id"])
    oauth.authorization_complete(tenant=tenant, session={}, query={"code": code})
    return app


def test_missed_meeting_found_by_the_backfill_and_fetched_once(
        zoom, tenant, django_capture_on_commit_callbacks):
    app = zoom.register_app(
        client_id=tenant.client_id, client_secret=tenant.client_secret,
        redirect_uri=f"https://{tenant.slug}.portal.test/adminapi/zoom/oauth/authorize")
    missed = zoom.end_meeting(client_id=app["client_id"], participants=3, minutes=20,
                              send_event=False)
    assert missed["event"] is None and not zoom.deliveries()
    code = zoom.authorization_code(app["client_id"])
    with django_capture_on_commit_callbacks():
        oauth.authorization_complete(tenant=tenant, session={}, query={"code": code})
    assert ZoomReconcileState.objects.get(tenant=tenant).backfill_days == 7

    with django_capture_on_commit_callbacks(execute=True):  # the metrics fetch runs eagerly
        outcome = reconcile_tenant_attempt(tenant_id=tenant.pk)
    assert outcome["status"] == "done" and outcome["missing"] >= 1
    meeting = ZoomMeeting.objects.get(tenant=tenant, uuid=missed["uuid"])
    assert meeting.fetch_status == FetchStatus.DONE and meeting.participants_count >= 3
    assert meeting.zoom_audio_quality in ("good", "fair", "poor", "bad")
    assert meeting.reconciled_at is not None and meeting.ended_event_at is None

    with django_capture_on_commit_callbacks(execute=True):
        again = reconcile_run(tenant=tenant, days=1)
    assert again["missing"] == 0 and again["listed"] >= 1
    endpoints = zoom.stats()["endpoints"]
    # Every instance the lists showed (the sandbox's earlier meetings too) fetched exactly once.
    for kind in ("meeting", "webinar"):
        stored = ZoomMeeting.objects.filter(tenant=tenant, kind=kind)
        assert endpoints.get(f"GET /metrics/{kind}s/{{id}}", 0) == stored.count()
        assert not stored.exclude(fetch_status=FetchStatus.DONE).exists()
    assert endpoints["GET /metrics/meetings"] == 2  # the backfill's window, then the hourly one


def test_overview_page_shows_the_sandbox_numbers(zoom, tenant, client):
    connect(zoom, tenant)
    summary = overview_fetch(tenant=tenant)
    assert summary["sections"]["quality"] == "ok"
    assert summary["sections"]["client_versions"] == "ok"
    user = get_user_model().objects.create_superuser("root", "root@x.example", "pw")
    client.force_login(user)
    response = client.get(reverse("admin:zoom_integration_zoomaccountoverview_tenant",
                                  args=[tenant.pk]))
    assert response.status_code == 200
    assert b'id="overview-fetched"' in response.content
