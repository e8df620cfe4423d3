"""Against the sandbox over real HTTP, on PostgreSQL and Redis, with real Celery workers."""

import json
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.celery_worker import celery_worker
from tests.sandbox_helpers import sandbox_connect
from zoom_sandbox.testing import running_sandbox

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def zoom(settings):
    with running_sandbox(users=700, groups=4, meetings=2, webinars=1) as sandbox:
        settings.ZOOM_API_BASE_URL = sandbox.api_base_url
        settings.ZOOM_OAUTH_BASE_URL = sandbox.base_url
        yield sandbox


def zoom_worker(zoom, *, name, queues="metrics,sync", overrides=None, visibility=3600):
    """A worker against the sandbox, with its rate-limit overrides and broker visibility."""
    return celery_worker(name=name, queues=queues,
                         settings_module="tests.workers.worker_settings", env={
                             "ZOOM_API_BASE_URL": zoom.api_base_url,
                             "ZOOM_OAUTH_BASE_URL": zoom.base_url,
                             "ZOOM_RATE_LIMIT_OVERRIDES": json.dumps(overrides or {}),
                             "CELERY_VISIBILITY_TIMEOUT": str(visibility)})


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_users_and_groups_synced_from_the_sandbox(zoom, tenant):
    from zoom_integration.directory import zoom_directory_sync
    from zoom_integration.models import ZoomGroup, ZoomGroupMembership, ZoomUser

    app, _token = sandbox_connect(zoom, tenant)
    account = zoom.sandbox.account_summary(zoom.sandbox.world.account(app["account_id"]))
    runs = zoom_directory_sync(tenant=tenant)
    assert [r.status for r in runs] == ["succeeded", "succeeded"]
    assert ZoomUser.objects.filter(tenant=tenant, deleted_at__isnull=True).count() == \
        account["users"] == 700
    assert set(ZoomUser.objects.values_list("status", flat=True)) == {"active", "inactive",
                                                                     "pending"}
    assert ZoomGroup.objects.filter(tenant=tenant).count() == 4
    assert ZoomGroupMembership.objects.filter(group__tenant=tenant).count() == 700
    # Minimum list calls: pages of 300 per status, plus one groups call.
    stats = zoom.stats()["rate_limits"][app["account_id"]]
    counts = {s: zoom.sandbox.world.count_users(zoom.sandbox.world.account(app["account_id"]), s)
              for s in ("active", "inactive", "pending")}
    expected = sum(max(1, -(-n // 300)) for n in counts.values()) + 1
    assert stats["Medium"]["calls"] == expected
    # A user removed in Zoom is marked deleted on the next sync.
    victim = ZoomUser.objects.filter(tenant=tenant, status="active").last()
    zoom.delete_user(victim.zoom_id)
    zoom_directory_sync(tenant=tenant)
    victim.refresh_from_db()
    assert victim.deleted_at is not None


def test_an_ended_meeting_event_in_metrics_out(zoom, tenant, through_broker):
    from zoom_integration.metrics import meeting_ended_record
    from zoom_integration.models import QosMinute, ZoomMeeting

    app, _token = sandbox_connect(zoom, tenant)
    ended = zoom.end_meeting(client_id=app["client_id"], participants=25, minutes=6)
    with zoom_worker(zoom, name="metrics1"):
        meeting_ended_record(tenant=tenant, kind="meeting", payload=ended["event"]["payload"])
        meeting = ZoomMeeting.objects.get(tenant=tenant, uuid=ended["uuid"])
        _wait(lambda: ZoomMeeting.objects.get(pk=meeting.pk).fetch_status in ("done", "failed"),
              60, "the metrics task")
    meeting.refresh_from_db()
    assert meeting.fetch_status == "done", meeting.last_error
    assert (meeting.participants_count, meeting.sessions_count) == (20, 23)  # people, sessions
    assert meeting.qos_samples == QosMinute.objects.filter(meeting=meeting).count() > 25
    assert meeting.quality in ("good", "poor")


def test_two_workers_share_the_rate_limit(zoom, tenant, through_broker):
    from zoom_integration.metrics import meeting_ended_record
    from zoom_integration.models import ZoomMeeting

    app, _token = sandbox_connect(zoom, tenant)
    limit = 5
    zoom.configure(rate_limits={"Heavy": {"per_second": limit}})
    ended = [zoom.end_meeting(client_id=app["client_id"], participants=20, minutes=2)
             for _ in range(6)]  # 6 x (detail + participants + 2 QoS pages) = 24 Heavy calls
    zoom.reset()
    overrides = {"Heavy": {"per_second": limit}}
    with zoom_worker(zoom, name="rl1", overrides=overrides), \
            zoom_worker(zoom, name="rl2", overrides=overrides):
        for event in ended:
            meeting_ended_record(tenant=tenant, kind="meeting", payload=event["event"]["payload"])
        _wait(lambda: not ZoomMeeting.objects.filter(tenant=tenant).exclude(
            fetch_status__in=("done", "failed")).exists(), 90, "six fetches")
    assert set(ZoomMeeting.objects.filter(tenant=tenant).values_list("fetch_status",
                                                                     flat=True)) == {"done"}
    heavy = zoom.stats()["rate_limits"][app["account_id"]]["Heavy"]
    assert heavy["calls"] == 24
    assert heavy["rejected_qps"] == 0
    assert heavy["max_per_second"] <= limit


def test_a_worker_killed_mid_task_and_the_task_completed_once(zoom, tenant, through_broker):
    from zoom_integration.metrics import meeting_ended_record
    from zoom_integration.models import QosMinute, ZoomMeeting, ZoomParticipant

    app, _token = sandbox_connect(zoom, tenant)
    ended = zoom.end_meeting(client_id=app["client_id"], participants=40, minutes=3)
    zoom.set_faults(delay=1.0, path_prefix="/v2/metrics")  # each Heavy call takes a second
    visibility = 4
    with zoom_worker(zoom, name="doomed", visibility=visibility) as doomed:
        meeting_ended_record(tenant=tenant, kind="meeting", payload=ended["event"]["payload"])
        meeting = ZoomMeeting.objects.get(tenant=tenant, uuid=ended["uuid"])
        _wait(lambda: ZoomMeeting.objects.get(pk=meeting.pk).fetch_status == "fetching", 30,
              "the task to start")
        time.sleep(1.5)  # mid-task: inside the QoS paging
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
    assert ZoomMeeting.objects.get(pk=meeting.pk).fetch_status == "fetching"
    zoom.clear_faults()
    with zoom_worker(zoom, name="survivor", visibility=visibility):
        _wait(lambda: ZoomMeeting.objects.get(pk=meeting.pk).fetch_status == "done", 60,
              "the redelivered task")
        time.sleep(visibility + 1)  # a second redelivery would show up as another attempt
    meeting.refresh_from_db()
    assert meeting.fetch_status == "done"
    assert meeting.fetch_attempts == 2  # the killed attempt and the one that completed
    assert ZoomParticipant.objects.filter(meeting=meeting).count() == 40
    samples = QosMinute.objects.filter(meeting=meeting)
    assert samples.count() == meeting.qos_samples
    assert samples.values("participant", "sampled_at").distinct().count() == samples.count()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
