"""The account overview: fetch, store, the admin page in every degraded case, never a 500."""

from datetime import timedelta

import pytest
import responses
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from zoom_integration.models import ZoomAccountOverview
from zoom_integration.overview import overview_due_enqueue, overview_fetch

from .conftest import API, today

pytestmark = pytest.mark.django_db


def quality_answer(good=50, poor=3):
    return {"from": "x", "to": "x", "quality": {
        "audio": {"good": good, "fair": 4, "poor": poor, "bad": 1},
        "video": {"good": good - 10, "fair": 2, "poor": 1, "bad": 0},
        "screen_share": {"good": 9, "fair": 0, "poor": 0, "bad": 0}}}


def serve_overview():
    responses.get(f"{API}/metrics/quality", json=quality_answer())
    responses.get(f"{API}/metrics/client_versions", json={"client_versions": [
        {"client_version": "6.0.2 (12345)", "total_count": 40},
        {"client_version": "5.9.1 (1111)", "total_count": 3},
        {"client_version": "6.1.0 (22222)", "total_count": 12}]})
    responses.get(f"{API}/metrics/zoomrooms", json={"zoom_rooms": [
        {"id": "r1", "room_name": "Boardroom", "status": "Offline", "health": "critical",
         "issues": ["Zoom room is offline"]},
        {"id": "r2", "room_name": "Huddle", "status": "Available", "health": "healthy",
         "issues": []}], "next_page_token": ""})
    responses.get(f"{API}/metrics/issues/zoomrooms",
                  json={"zoom_rooms": [{"id": "r1", "room_name": "Boardroom",
                                        "issues_count": 5}]})
    responses.get(f"{API}/metrics/zoomrooms/issues",
                  json={"issues": [{"issue_name": "Zoom room is offline",
                                    "zoom_rooms_count": 1}]})


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("root", "root@x.example", "pw")
    client.force_login(user)
    return client


def page(staff, tenant):
    response = staff.get(reverse("admin:zoom_integration_zoomaccountoverview_tenant",
                                 args=[tenant.pk]))
    assert response.status_code == 200
    return response.content.decode()


@responses.activate
def test_overview_is_fetched_day_by_day_and_shown(connected, staff):
    serve_overview()
    summary = overview_fetch(tenant=connected)
    assert set(summary["sections"].values()) == {"ok"}
    quality_calls = [c.request for c in responses.calls if "/metrics/quality" in c.request.url]
    assert len(quality_calls) == 7
    days = sorted(c.params["from"] for c in quality_calls)
    assert days[0] == (today() - timedelta(days=7)).isoformat()
    assert days[-1] == (today() - timedelta(days=1)).isoformat()  # today is not over yet
    assert all(c.params["from"] == c.params["to"] for c in quality_calls)
    assert summary["api_calls"] == 11

    html = page(staff, connected)
    assert 'id="overview-fetched"' in html and "overview-notice" not in html
    assert html.count('class="qos-chart"') == 3  # audio, video, screen share
    assert "50 / 4 / 3 / 1" in html
    assert "5.9.1 (1111) <strong class=\"op-bad\">oldest</strong>" in html
    assert html.index("6.1.0") < html.index("6.0.2") < html.index("5.9.1")
    assert "Boardroom" in html and "critical" in html and "Zoom room is offline" in html


@responses.activate
def test_without_the_overview_scope_the_page_says_so(connected, staff):
    responses.get(f"{API}/metrics/quality", status=400, json={
        "code": 4711, "message": "Invalid access token, does not contain scopes:"
                                 "[dashboard_home:read:admin]."})
    serve_overview()  # the other sections still answer
    summary = overview_fetch(tenant=connected)
    assert summary["sections"]["quality"] == "missing_scope"
    assert summary["sections"]["client_versions"] == "ok"
    html = page(staff, connected)
    assert 'id="notice-quality"' in html and "lacks the scope" in html
    assert "6.1.0" in html


@responses.activate
def test_a_plan_without_dashboard_says_so_and_spends_one_call(connected, staff):
    responses.get(f"{API}/metrics/quality", status=400, json={
        "code": 200, "message": "Only available for paid account and enabled Dashboard feature"})
    summary = overview_fetch(tenant=connected)
    assert set(summary["sections"].values()) == {"no_dashboard"}
    assert len(responses.calls) == 1
    html = page(staff, connected)
    assert html.count("has no Dashboard") == 5
    # Nothing else is affected: the connection is not marked.
    connected.zoom_connection.refresh_from_db()
    assert connected.zoom_connection.dashboard_available is None


def test_missing_keys_and_unknown_levels_are_shown_as_far_as_they_go(connected, staff):
    ZoomAccountOverview.objects.create(
        tenant=connected, fetched_at=timezone.now(), days=3,
        quality={"2026-05-01": {"quality": {"audio": {"good": 5, "awful": 2, "poor": "x"},
                                            "video": "broken"}},
                 "not a day": {}, "2026-05-02": {"nothing": 1}, "2026-05-03": None},
        client_versions={"client_versions": [{"total_count": 3}, "junk", {"client_version": 7}]},
        zoom_rooms={"zoom_rooms": [{"status": "Offline"}, None]},
        top_rooms={"zoom_rooms": "no"}, top_issues=[],
        errors={"zoom_rooms": "not a dict", "top_issues": {"kind": "mystery"}})
    html = page(staff, connected)
    assert "awful" in html  # the unknown level is a column of its own
    assert "5 / ? / ? / ? / 2" in html
    assert "Offline" in html and 'id="notice-top_issues"' in html


def test_never_fetched_page_says_how(connected, staff):
    html = page(staff, connected)
    assert 'id="overview-none"' in html and f"zoom_overview {connected.slug}" in html


def test_overview_page_of_a_tenant_not_granted_is_refused(connected, client):
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user("staff", "s@x.example", "pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_zoomaccountoverview"))
    client.force_login(user)
    response = client.get(reverse("admin:zoom_integration_zoomaccountoverview_tenant",
                                  args=[connected.pk]))
    assert response.status_code == 403


def test_daily_fan_out_queues_stale_overviews_only(connected, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        assert overview_due_enqueue() == 1
    assert len(callbacks) == 1
    ZoomAccountOverview.objects.create(tenant=connected, fetched_at=timezone.now())
    assert overview_due_enqueue() == 0
    assert overview_due_enqueue(now=timezone.now() + timedelta(hours=25)) == 1


def test_tenant_health_links_the_overview_and_shows_reconcile(connected, staff):
    from zoom_integration.models import ZoomReconcileState

    ZoomReconcileState.objects.create(
        tenant=connected, status="waiting", job_origin="backfill", job_done=2, job_total=6,
        pending=[{"kind": "meeting", "from": "2026-01-01", "to": "2026-01-28"}],
        waiting_until=timezone.now() + timedelta(hours=3))
    response = staff.get(reverse("admin:zoom_integration_tenanthealth_changelist"))
    html = response.content.decode()
    assert response.status_code == 200
    assert reverse("admin:zoom_integration_zoomaccountoverview_tenant",
                   args=[connected.pk]) in html
    assert "backfill: 2 of 6 windows listed" in html and "waits for Zoom" in html
