"""Reconcile against Zoom's lists: windows, pages, idempotency, skipped rows, the daily cap."""

from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from zoom_integration.backfill import MAX_WINDOW_DAYS, reconcile_windows
from zoom_integration.models import ZoomMeeting, ZoomReconcileState
from zoom_integration.models.metrics import FetchStatus
from zoom_integration.models.reconcile import ReconcileStatus
from zoom_integration.reconcile import reconcile_due_enqueue, reconcile_run

from .conftest import API, row, today

pytestmark = pytest.mark.django_db


def test_windows_are_cut_at_zoom_limit_newest_first():
    end = today()
    pieces = reconcile_windows(date_from=end - timedelta(days=60), date_to=end)
    assert len(pieces) == 3
    assert pieces[0][1] == end and pieces[-1][0] == end - timedelta(days=60)
    for (start, stop), (_, older_stop) in zip(pieces, pieces[1:] + [(None, None)], strict=True):
        assert (stop - start).days + 1 <= MAX_WINDOW_DAYS
        if older_stop:
            assert older_stop == start - timedelta(days=1)  # contiguous, no gap, no overlap


def test_a_long_window_is_split_and_every_meeting_found(connected, lists,
                                                        django_capture_on_commit_callbacks):
    lists.add("meetings", *[row(f"m{d}", days_ago=d) for d in range(0, 61, 3)])
    lists.add("webinars", row("w1", days_ago=40, kind="webinar"))
    with django_capture_on_commit_callbacks() as callbacks:
        summary = reconcile_run(tenant=connected, days=60, origin="command")
    assert (summary["listed"], summary["missing"], summary["queued"]) == (22, 22, 22)
    assert len(callbacks) == 22  # one metrics fetch scheduled per missing instance
    assert summary["complete"] and summary["windows"] == 6
    sent = lists.sent
    assert len(sent) == 6 == summary["api_calls"]
    assert {(s["list"], s["type"], s["page_size"]) for s in sent} == {
        ("meetings", "past", "300"), ("webinars", "past", "300")}
    for s in sent:
        span = (timezone.datetime.fromisoformat(s["to"]) -
                timezone.datetime.fromisoformat(s["from"])).days
        assert span < MAX_WINDOW_DAYS
    assert sent[0]["to"] == today().isoformat()  # newest first
    assert ZoomMeeting.objects.filter(tenant=connected).count() == 22


def test_pages_follow_next_page_token(connected, lists, django_capture_on_commit_callbacks):
    lists.add("meetings", *[row(f"p{i}") for i in range(650)])
    with django_capture_on_commit_callbacks():
        summary = reconcile_run(tenant=connected, days=1)
    meeting_calls = [s for s in lists.sent if s["list"] == "meetings"]
    assert [c.get("next_page_token") for c in meeting_calls] == [None, "300", "600"]
    assert summary["pages"] == 4 and summary["missing"] == 650  # 3 meeting pages + 1 webinar
    assert ZoomMeeting.objects.filter(tenant=connected).count() == 650


def test_missing_meeting_is_stored_with_zoom_fields_and_labels(connected, lists,
                                                               django_capture_on_commit_callbacks):
    lists.add("meetings", row("qW3+kL0/Zx9==", audio_quality="Poor", video_quality="bad",
                              screen_share_quality="excellent"))
    lists.add("webinars", row("web-1", kind="webinar"))
    with django_capture_on_commit_callbacks():
        reconcile_run(tenant=connected, days=1)
    meeting = ZoomMeeting.objects.get(tenant=connected, uuid="qW3+kL0/Zx9==")
    assert meeting.kind == "meeting" and meeting.topic == "meeting qW3+kL0/Zx9=="
    assert meeting.host_email == "ana@cust.example" and meeting.duration_minutes == 47
    assert meeting.zoom_meeting_id.startswith("86")
    assert (meeting.zoom_audio_quality, meeting.zoom_video_quality,
            meeting.zoom_screen_share_quality) == ("poor", "bad", "excellent")
    assert meeting.reconciled_at is not None and meeting.ended_event_at is None
    assert meeting.fetch_status == FetchStatus.SCHEDULED
    webinar = ZoomMeeting.objects.get(tenant=connected, uuid="web-1")
    assert webinar.kind == "webinar" and webinar.zoom_audio_quality == ""


def test_second_run_finds_nothing_missing_and_adds_no_rows(connected, lists,
                                                           django_capture_on_commit_callbacks):
    lists.add("meetings", row("a"), row("b"))
    with django_capture_on_commit_callbacks() as first:
        reconcile_run(tenant=connected, days=1)
    with django_capture_on_commit_callbacks() as second:
        summary = reconcile_run(tenant=connected, days=1)
    assert len(first) == 2 and len(second) == 0
    assert (summary["listed"], summary["missing"], summary["queued"], summary["known"]) == (
        2, 0, 0, 2)
    assert ZoomMeeting.objects.filter(tenant=connected).count() == 2


def test_a_meeting_the_event_stored_is_not_fetched_again_but_gets_zoom_labels(
        connected, lists, django_capture_on_commit_callbacks):
    stored = ZoomMeeting.objects.create(tenant=connected, uuid="ev-1", kind="meeting",
                                        fetch_status=FetchStatus.DONE)
    lists.add("meetings", row("ev-1", audio_quality="poor"))
    with django_capture_on_commit_callbacks() as callbacks:
        summary = reconcile_run(tenant=connected, days=1)
    assert not callbacks and summary["missing"] == 0 and summary["labels_updated"] == 1
    stored.refresh_from_db()
    assert stored.zoom_audio_quality == "poor" and stored.reconciled_at is None


def test_rows_without_uuid_are_skipped_and_counted(connected, lists,
                                                   django_capture_on_commit_callbacks):
    lists.add("meetings", row("ok"), row(""), {"topic": "no uuid at all"}, "not an object")
    with django_capture_on_commit_callbacks():
        summary = reconcile_run(tenant=connected, days=1)
    assert (summary["listed"], summary["skipped"], summary["missing"]) == (4, 3, 1)
    assert list(ZoomMeeting.objects.values_list("uuid", flat=True)) == ["ok"]


def test_the_missing_meeting_is_fetched_exactly_once(connected, lists,
                                                     django_capture_on_commit_callbacks):
    """End to end in-process: the scheduled fetch runs (eager) and fills the meeting."""
    lists.add("meetings", row("fetch-me"))
    detail = lists.mock.get(f"{API}/metrics/meetings/fetch-me", json={
        "uuid": "fetch-me", "topic": "Found", "start_time": "2026-05-29T09:00:02Z",
        "end_time": "2026-05-29T09:47:40Z", "participants": 1})
    lists.mock.get(f"{API}/metrics/meetings/fetch-me/participants",
                   json={"participants": [{"id": "u1", "user_id": "1", "user_name": "Ana"}]})
    lists.mock.get(f"{API}/metrics/meetings/fetch-me/participants/qos",
                   json={"participants": []})
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            reconcile_run(tenant=connected, days=1)
    assert detail.call_count == 1
    meeting = ZoomMeeting.objects.get(uuid="fetch-me")
    assert meeting.fetch_status == FetchStatus.DONE and meeting.participants_count == 1


def test_daily_cap_mid_way_stops_remembers_and_continues_after_reset(
        connected, lists, settings, django_capture_on_commit_callbacks):
    lists.add("meetings", *[row(f"m{d}", days_ago=d) for d in range(0, 61, 2)])
    # Our own count of the day's capped calls (Heavy + Resource-intensive) allows two calls.
    settings.ZOOM_RATE_LIMIT_OVERRIDES = {"Resource-intensive": {"per_second": 1000},
                                          "combined_per_day": 2}
    with django_capture_on_commit_callbacks():
        summary = reconcile_run(tenant=connected, days=60, origin="command")
    assert summary["stopped"] == "daily_limit" and not summary["complete"]
    assert summary["windows"] == 2 and summary["windows_left"] == 4
    assert len(lists.sent) == 2  # the third call was refused here, never sent to Zoom
    state = ZoomReconcileState.objects.get(tenant=connected)
    assert state.status == ReconcileStatus.WAITING and state.waiting_until > timezone.now()
    assert (state.job_done, state.job_total, len(state.pending)) == (2, 6, 4)
    found_before = ZoomMeeting.objects.count()
    assert 0 < found_before < 31

    # Before the reset the beat leaves it alone; after it, the rest is listed.
    assert reconcile_due_enqueue() == 0
    settings.ZOOM_RATE_LIMIT_OVERRIDES = {"Resource-intensive": {"per_second": 1000}}
    with django_capture_on_commit_callbacks() as queued:
        assert reconcile_due_enqueue(now=state.waiting_until + timedelta(seconds=1)) == 1
    assert len(queued) == 1
    with django_capture_on_commit_callbacks():
        from zoom_integration.reconcile import reconcile_tenant_attempt

        outcome = reconcile_tenant_attempt(tenant_id=connected.pk)
    assert outcome["status"] == "done"
    assert ZoomMeeting.objects.count() == 31  # nothing lost
    state.refresh_from_db()
    assert state.status == ReconcileStatus.DONE and state.pending == []
    assert state.job_done == state.job_total


@responses.activate
def test_zoom_daily_429_mid_way_is_a_stop_too(connected):
    responses.get(f"{API}/metrics/meetings", json={"meetings": [row("one")],
                                                   "next_page_token": "t2"})
    responses.get(f"{API}/metrics/meetings", status=429, headers={
        "X-RateLimit-Type": "Daily-limit", "Retry-After": "2099-01-01T00:00:00Z"},
        json={"code": 429, "message": "You have reached the maximum daily rate limit"})
    summary = reconcile_run(tenant=connected, days=1)
    assert summary["stopped"] == "daily_limit" and summary["missing"] == 1
    state = ZoomReconcileState.objects.get(tenant=connected)
    assert state.status == ReconcileStatus.WAITING and len(state.pending) == 2
    assert "daily" in state.last_error


@responses.activate
def test_missing_webinar_scope_leaves_meetings_reconciled(connected):
    responses.get(f"{API}/metrics/meetings", json={"meetings": [row("m1")]})
    responses.get(f"{API}/metrics/webinars", status=400, json={
        "code": 4711, "message": "Invalid access token, does not contain scopes:"
                                 "[dashboard_webinars:read:admin]."})
    summary = reconcile_run(tenant=connected, days=1)
    assert summary["missing"] == 1 and summary["complete"]
    assert "missing scope" in summary["errors"][0]
    state = ZoomReconcileState.objects.get(tenant=connected)
    assert state.status == ReconcileStatus.DONE and "dashboard_webinars" in state.last_error


@responses.activate
def test_a_plan_without_dashboard_is_recorded_not_retried(connected):
    responses.get(f"{API}/metrics/meetings", status=400, json={
        "code": 200, "message": "Only available for paid account and enabled Dashboard feature"})
    summary = reconcile_run(tenant=connected, days=1)
    assert summary["stopped"] == "no_dashboard"
    state = ZoomReconcileState.objects.get(tenant=connected)
    assert state.status == ReconcileStatus.UNAVAILABLE and state.pending == []
    connected.zoom_connection.refresh_from_db()
    assert connected.zoom_connection.dashboard_available is False


def test_due_enqueue_queues_each_connected_tenant_once_per_interval(
        connected, lists, django_capture_on_commit_callbacks, settings):
    settings.ZOOM_RECONCILE_INTERVAL_MINUTES = 60
    with django_capture_on_commit_callbacks() as first:
        assert reconcile_due_enqueue() == 1
    assert len(first) == 1
    assert reconcile_due_enqueue() == 0  # queued a moment ago
    with django_capture_on_commit_callbacks():
        reconcile_run(tenant=connected, days=1)
    later = timezone.now() + timedelta(minutes=61)
    assert reconcile_due_enqueue(now=timezone.now() + timedelta(minutes=20)) == 0
    assert reconcile_due_enqueue(now=later) == 1


def test_a_second_run_while_one_holds_the_tenant_is_refused(connected):
    from zoom_integration.reconcile import ReconcileBusyError

    ZoomReconcileState.objects.create(tenant=connected, run_started_at=timezone.now())
    with pytest.raises(ReconcileBusyError):
        reconcile_run(tenant=connected, days=1)
