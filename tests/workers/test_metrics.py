"""Dashboard metrics: record the ended meeting, fetch, store, classify, re-fetch, retry."""

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.utils import timezone

from zoom_integration.exceptions import RetryLater
from zoom_integration.metrics import (
    dashboard_metrics_fetch,
    meeting_ended_record,
    metrics_fetch_attempt,
    metrics_parked_resume,
)
from zoom_integration.models import (
    QosMinute,
    ZoomConnection,
    ZoomMeeting,
    ZoomMeetingPerson,
    ZoomParticipant,
    ZoomUser,
)
from zoom_integration.models.metrics import FetchStatus
from zoom_integration.qos_store import qos_samples_read

from .conftest import API

pytestmark = pytest.mark.django_db

UUID = "qW3+kL0/Zx9=="
PATH = f"{API}/metrics/meetings/qW3%2BkL0%2FZx9%3D%3D"


def _participant(p, guest=False):
    return {"id": "" if guest else f"pid{p}", "user_id": str(16778240 + p),
            "participant_user_id": "" if guest else f"U{p}",
            "user_name": f"Guest {p}" if guest else f"User {p}",
            "email": "" if guest else f"user{p}@cust.example", "device": "Mac", "os": "Mac",
            "os_version": "14.5", "network_type": "Wifi", "location": "Paris (FR)",
            "data_center": "Frankfurt (DE)", "connection_type": "UDP", "version": "6.0.2",
            "join_time": "2026-05-29T09:00:10Z", "leave_time": "2026-05-29T09:47:30Z"}


def _sample(minute, jitter="3 ms"):
    return {"date_time": f"2026-05-29T09:{minute:02d}:00Z",
            "audio_input": {"bitrate": "27.3 kbps", "latency": "41 ms", "jitter": jitter,
                            "avg_loss": "0.1%", "max_loss": "1.2%"},
            "video_input": {"bitrate": "812 kbps", "latency": "50 ms", "jitter": "4 ms",
                            "avg_loss": "0.2%", "max_loss": "1%", "resolution": "1280*720",
                            "frame_rate": "25 fps"},
            "as_input": {"bitrate": "-", "latency": "-", "frame_rate": "-"}}


def _serve_meeting(n_participants=23, minutes=3, poor=(1,), guests=(2,)):
    participants = [_participant(p, guest=p in guests) for p in range(n_participants)]
    responses.get(PATH, json={"uuid": UUID, "id": 86012345678, "topic": "Weekly sync",
                              "email": "host@cust.example", "participants": n_participants,
                              "start_time": "2026-05-29T09:00:02Z",
                              "end_time": "2026-05-29T09:47:40Z", "duration": "47:38",
                              "has_video": True})

    def paged(items, key, request):
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        start = int(query.get("next_page_token") or 0)
        size = int(query["page_size"])
        token = str(start + size) if start + size < len(items) else ""
        return 200, {}, json.dumps({key: items[start:start + size], "next_page_token": token,
                                    "total_records": len(items)})

    qos = []
    for p, data in enumerate(participants):
        entry = {k: data[k] for k in ("id", "user_id", "user_name", "device", "join_time",
                                      "leave_time")}
        entry["user_qos"] = [_sample(m, "80 ms" if p in poor else "3 ms")
                             for m in range(1, minutes + 1)]
        qos.append(entry)
    responses.add_callback(responses.GET, f"{PATH}/participants",
                           callback=lambda r: paged(participants, "participants", r))
    responses.add_callback(responses.GET, f"{PATH}/participants/qos",
                           callback=lambda r: paged(qos, "participants", r))


def _meeting(tenant, **kw):
    return ZoomMeeting.objects.create(tenant=tenant, uuid=UUID, kind="meeting", **kw)


@responses.activate
def test_fetch_stores_participants_samples_and_classification(connected):
    ZoomUser.objects.create(tenant=connected, zoom_id="U0", email="user0@cust.example")
    _serve_meeting()
    meeting = _meeting(connected)
    summary = dashboard_metrics_fetch(tenant=connected, meeting=meeting)
    assert summary["participants"] == 23
    assert summary["qos_samples"] == 69
    assert summary["poor_participants"] == 1
    meeting.refresh_from_db()
    assert (meeting.participants_count, meeting.qos_samples, meeting.quality) == (23, 69, "poor")
    assert meeting.fetch_status == FetchStatus.DONE
    assert meeting.worst_metric == "audio input jitter 80 ms > 30 ms"
    assert meeting.topic == "Weekly sync" and meeting.details["has_video"] is True
    poor = ZoomMeetingPerson.objects.get(meeting=meeting, quality="poor")
    assert poor.quality_reason == "audio input jitter 80 ms > 30 ms"
    assert poor.stream_summaries["audio_input"]["jitter_ms"] == {"min": 80, "avg": 80, "max": 80}
    host = ZoomParticipant.objects.get(meeting=meeting, position=0)
    assert host.user.zoom_id == "U0"
    assert host.person.quality == "good" and host.person.mos > 4
    assert host.person.user == host.user and host.person.identity_kind == "user"
    guest = ZoomParticipant.objects.get(meeting=meeting, position=2)
    assert guest.zoom_participant_id == ""
    assert len(qos_samples_read(meeting_id=meeting.pk, participant_ids=[guest.pk])) == 3
    sample = qos_samples_read(meeting_id=meeting.pk, participant_ids=[host.pk])[0]
    assert sample.metrics["audio_input"]["latency_ms"] == 41.0
    assert sample.metrics["video_input"]["resolution"] == "1280x720"
    qos_calls = [c for c in responses.calls if c.request.url.startswith(f"{PATH}/participants/qos")]
    assert len(qos_calls) == 3  # 23 participants, 10 per page


@responses.activate
def test_refetch_replaces_without_duplicates(connected):
    _serve_meeting(n_participants=5, minutes=4)
    meeting = _meeting(connected)
    dashboard_metrics_fetch(tenant=connected, meeting=meeting)
    first_ids = set(ZoomParticipant.objects.values_list("pk", flat=True))
    summary = dashboard_metrics_fetch(tenant=connected, meeting=meeting)
    assert summary["participants"] == 5 and summary["qos_samples"] == 20
    assert ZoomParticipant.objects.filter(meeting=meeting).count() == 5
    assert QosMinute.objects.filter(meeting=meeting).count() == 20
    assert not first_ids & set(ZoomParticipant.objects.values_list("pk", flat=True))


@responses.activate
def test_fetch_queries_are_bounded_per_qos_page(connected, django_assert_max_num_queries):
    _serve_meeting(n_participants=100, minutes=10)
    meeting = _meeting(connected)
    # 10 QoS pages of 100 samples each: a fixed number of queries, not one per sample.
    with django_assert_max_num_queries(40):
        summary = dashboard_metrics_fetch(tenant=connected, meeting=meeting)
    assert summary["qos_samples"] == 1000


@responses.activate
def test_meeting_ended_record_schedules_the_fetch_on_commit(connected,
                                                            django_capture_on_commit_callbacks):
    payload = {"account_id": "A", "object": {"id": "86012345678", "uuid": UUID,
                                             "topic": "Weekly sync", "host_id": "U0",
                                             "start_time": "2026-05-29T09:00:02Z",
                                             "end_time": "2026-05-29T09:47:40Z"}}
    _serve_meeting()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        meeting = meeting_ended_record(tenant=connected, kind="meeting", payload=payload)
    assert len(callbacks) == 1
    meeting.refresh_from_db()
    assert meeting.fetch_status == FetchStatus.DONE
    assert meeting.participants_count == 23
    assert meeting.duration_minutes == 47
    # The same instance again (a repeated delivery): nothing new is scheduled.
    with django_capture_on_commit_callbacks() as callbacks:
        again = meeting_ended_record(tenant=connected, kind="meeting", payload=payload)
    assert again.pk == meeting.pk and callbacks == []


def test_practice_webinar_sessions_are_skipped(connected, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        result = meeting_ended_record(tenant=connected, kind="webinar", payload={
            "object": {"uuid": "w1==", "id": "9", "practice_session": True}})
    assert result is None and callbacks == []
    assert not ZoomMeeting.objects.exists()


def test_a_new_uuid_for_the_same_meeting_is_a_new_instance(connected):
    for uuid in ("a==", "b=="):
        meeting_ended_record(tenant=connected, kind="meeting",
                             payload={"object": {"uuid": uuid, "id": "86012345678"}})
    assert ZoomMeeting.objects.filter(zoom_meeting_id="86012345678").count() == 2


@responses.activate
def test_not_ready_waits_with_backoff_then_gives_up_after_an_hour(connected):
    responses.get(PATH, status=404, json={"code": 3001, "message": "Meeting does not exist"})
    meeting = _meeting(connected, ended_event_at=timezone.now())
    with pytest.raises(RetryLater) as first:
        metrics_fetch_attempt(meeting_id=meeting.pk)
    assert first.value.status == "waiting" and 40 <= first.value.countdown <= 80
    meeting.refresh_from_db()
    assert meeting.fetch_status == FetchStatus.WAITING and meeting.fetch_attempts == 1
    with pytest.raises(RetryLater) as second:
        metrics_fetch_attempt(meeting_id=meeting.pk)
    assert second.value.countdown > first.value.countdown * 1.2  # backs off
    ZoomMeeting.objects.filter(pk=meeting.pk).update(
        ended_event_at=timezone.now() - timedelta(minutes=59))
    calls_before = len(responses.calls)
    # After the data delay: one try with type=pastOne, then "no data from Zoom", not failed.
    assert metrics_fetch_attempt(meeting_id=meeting.pk)["status"] == "no_data"
    types = [parse_qs(urlsplit(c.request.url).query)["type"][0]
             for c in responses.calls[calls_before:]]
    assert types == ["past", "pastOne"]
    meeting.refresh_from_db()
    assert meeting.fetch_status == FetchStatus.NO_DATA and "no dashboard data" in meeting.last_error


@responses.activate
def test_daily_limit_parks_until_reset_then_beat_resumes(connected,
                                                         django_capture_on_commit_callbacks):
    responses.get(PATH, status=429, headers={"X-RateLimit-Type": "Daily-limit",
                                             "Retry-After": "120"},
                  json={"code": 429, "message": "daily"})
    meeting = _meeting(connected)
    assert metrics_fetch_attempt(meeting_id=meeting.pk) == {"status": "parked"}
    meeting.refresh_from_db()
    assert meeting.fetch_status == FetchStatus.PARKED
    assert metrics_parked_resume() == 0  # not before the reset
    with django_capture_on_commit_callbacks() as callbacks:
        assert metrics_parked_resume(now=timezone.now() + timedelta(minutes=3)) == 1
    assert len(callbacks) == 1
    meeting.refresh_from_db()
    assert meeting.fetch_status == FetchStatus.SCHEDULED


@responses.activate
def test_plan_without_dashboard_marks_the_connection_and_skips(connected):
    responses.get(PATH, status=400, json={"code": 200, "message": "Only available for paid"})
    meeting = _meeting(connected)
    assert metrics_fetch_attempt(meeting_id=meeting.pk)["status"] == "skipped"
    assert ZoomConnection.objects.get(tenant=connected).dashboard_available is False
    meeting.refresh_from_db()
    assert meeting.fetch_status == FetchStatus.SKIPPED
    assert len(responses.calls) == 1


@responses.activate
def test_finished_meeting_is_not_fetched_again_by_a_redelivered_task(connected):
    meeting = _meeting(connected, fetch_status=FetchStatus.DONE)
    assert metrics_fetch_attempt(meeting_id=meeting.pk)["status"] == FetchStatus.DONE
    assert len(responses.calls) == 0


@responses.activate
def test_task_retries_until_data_is_ready(connected, monkeypatch):
    """Eager Celery: the task's self.retry runs again at once; the third attempt succeeds."""
    from zoom_integration.tasks.metrics import metrics_fetch_task

    responses.get(PATH, status=404, json={"code": 3001, "message": "not ended"})
    responses.get(PATH, status=404, json={"code": 3001, "message": "not ended"})
    _serve_meeting(n_participants=2, minutes=2)
    meeting = _meeting(connected, ended_event_at=timezone.now())
    # Not propagating: eager mode then runs each retry at once instead of raising Retry.
    monkeypatch.setitem(metrics_fetch_task.app.conf, "task_eager_propagates", False)
    metrics_fetch_task.apply(args=[meeting.pk], throw=False)
    meeting.refresh_from_db()
    assert meeting.fetch_status == FetchStatus.DONE and meeting.fetch_attempts == 3
    assert meeting.qos_samples == 4


@responses.activate
def test_odd_dashboard_values_are_stored_not_crashed_on(connected):
    responses.get(PATH, body='{"topic": "T\\u0000", "participants": 1, "custom_keys": NaN}')
    responses.get(f"{PATH}/participants", json={"participants": [
        {"user_id": "1", "user_name": "Ana\x00", "join_time": "garbage", "email": None}]})
    responses.get(f"{PATH}/participants/qos", json={"participants": [
        {"user_id": "1", "user_qos": [
            {"date_time": "nope", "audio_input": {"latency": "12 parsecs", "jitter": ["x"],
                                                  "bitrate": "30 kbps", "odd\x00": "1"}},
            "not a sample"]},
        {"user_id": "2", "user_qos": None}]})
    summary = dashboard_metrics_fetch(tenant=connected, meeting=_meeting(connected))
    assert summary["participants"] == 2 and summary["qos_samples"] == 2
    meeting_id = ZoomMeeting.objects.get(uuid=UUID).pk
    sample = qos_samples_read(meeting_id=meeting_id)[0]
    assert sample.unparsed["audio_input.latency"] == "12 parsecs"
    assert ZoomParticipant.objects.get(zoom_user_id="1").user_name == "Ana"


@responses.activate
def test_a_refetch_of_an_expired_meeting_brings_its_minutes_back(connected):
    _serve_meeting(n_participants=2, minutes=2)
    meeting = _meeting(connected, qos_expired_at=timezone.now())
    summary = dashboard_metrics_fetch(tenant=connected, meeting=meeting)
    meeting.refresh_from_db()
    assert meeting.qos_expired_at is None
    assert QosMinute.objects.filter(meeting=meeting).count() == summary["qos_samples"] == 4


def _heavy_calls() -> int:
    return sum(1 for call in responses.calls if "/metrics/" in call.request.url)


@responses.activate
def test_a_fetch_the_day_cannot_cover_is_parked_before_its_first_page(connected, settings):
    # 23 participants: the detail, 1 participant page, 3 QoS pages. One call is left after
    # the detail: the fetch must not start its pages, and must not repeat the detail later.
    settings.ZOOM_RATE_LIMIT_OVERRIDES = {"Heavy": {"per_second": 1000}, "combined_per_day": 4}
    _serve_meeting()
    meeting = _meeting(connected)
    assert metrics_fetch_attempt(meeting_id=meeting.pk) == {"status": "parked"}
    assert _heavy_calls() == 1  # the detail only
    meeting.refresh_from_db()
    assert meeting.fetch_status == FetchStatus.PARKED and meeting.next_attempt_at is not None
    assert not ZoomParticipant.objects.filter(meeting=meeting).exists()

    # Room for the pages (as after the reset): only they are fetched; the detail kept from
    # the parked attempt is not asked for again.
    settings.ZOOM_RATE_LIMIT_OVERRIDES = {"Heavy": {"per_second": 1000}, "combined_per_day": 8}
    result = metrics_fetch_attempt(meeting_id=meeting.pk)
    assert result["status"] == "done" and result["participants"] == 23
    assert _heavy_calls() == 1 + 4  # the floor: 1 + ceil(23/300) + ceil(23/10)
    details = [c for c in responses.calls if urlsplit(c.request.url).path.endswith("%3D%3D")]
    assert len(details) == 1


@responses.activate
def test_a_fetch_that_fits_spends_exactly_the_floor(connected, settings):
    settings.ZOOM_RATE_LIMIT_OVERRIDES = {"Heavy": {"per_second": 1000}, "combined_per_day": 5}
    _serve_meeting()
    meeting = _meeting(connected)
    assert metrics_fetch_attempt(meeting_id=meeting.pk)["status"] == "done"
    assert _heavy_calls() == 5
    # The day is now spent: the next meeting's detail is refused before any call.
    other = ZoomMeeting.objects.create(tenant=connected, uuid="other==", kind="meeting")
    assert metrics_fetch_attempt(meeting_id=other.pk) == {"status": "parked"}
    assert _heavy_calls() == 5
