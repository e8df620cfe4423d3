"""The call budget: calls per meeting, parked fetches resumed oldest first, the backlog."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import TenantFactory
from zoom_integration import metrics
from zoom_integration.budget import meeting_calls, tenant_fetch_backlog
from zoom_integration.models import ZoomMeeting
from zoom_integration.models.metrics import FetchStatus

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize(("participants", "calls"), [
    (1, 3), (10, 3), (11, 4), (300, 32), (301, 34), (1000, 105)])
def test_a_meeting_costs_one_detail_call_plus_participant_and_qos_pages(participants, calls):
    assert meeting_calls(participants) == calls


def parked(tenant, name: str, ended: datetime) -> ZoomMeeting:
    return ZoomMeeting.objects.create(tenant=tenant, uuid=name, kind="meeting", end_time=ended,
                                      fetch_status=FetchStatus.PARKED,
                                      next_attempt_at=NOW + timedelta(hours=1))


def test_parked_fetches_resume_oldest_first(monkeypatch):
    tenant = TenantFactory()
    middle = parked(tenant, "m==", NOW - timedelta(hours=5))
    newest = parked(tenant, "n==", NOW - timedelta(hours=1))
    oldest = parked(tenant, "o==", NOW - timedelta(days=20))
    queued = []
    # Records what would go to the broker, and when.
    monkeypatch.setattr(metrics, "metrics_fetch_enqueue",
                        lambda *, meeting_id, countdown, priority=None: queued.append(
                            (countdown, meeting_id)))
    assert metrics.metrics_parked_resume(now=NOW) == 0  # not before the reset
    assert metrics.metrics_parked_resume(now=NOW + timedelta(hours=1)) == 3
    assert [pk for _countdown, pk in sorted(queued)] == [oldest.pk, middle.pk, newest.pk]
    assert len({countdown for countdown, _pk in queued}) == 3  # strictly in that order
    assert set(ZoomMeeting.objects.values_list("fetch_status", flat=True)) == {
        FetchStatus.SCHEDULED}


def test_backlog_says_how_many_wait_since_when_and_when_they_clear(settings):
    settings.ZOOM_RATE_LIMIT_OVERRIDES = {"combined_per_day": 5, "Heavy": {"per_second": 10}}
    tenant = TenantFactory()
    assert tenant_fetch_backlog(tenant=tenant, now=NOW).parked == 0
    ZoomMeeting.objects.create(tenant=tenant, uuid="done==", kind="meeting",
                               fetch_status=FetchStatus.DONE, participants_count=20,
                               fetched_at=NOW - timedelta(hours=2))
    parked(tenant, "a==", NOW - timedelta(hours=3))
    parked(tenant, "b==", NOW - timedelta(hours=2))
    backlog = tenant_fetch_backlog(tenant=tenant, now=NOW)
    assert backlog.parked == 2
    assert backlog.oldest_end == NOW - timedelta(hours=3)
    assert backlog.resumes_at == NOW + timedelta(hours=1)
    assert backlog.calls_per_meeting == 4  # 20 participants: 1 + 1 + 2
    # 8 calls at 5 a day: one full day, then 3 calls at 8 a second.
    assert backlog.clears_by == NOW + timedelta(hours=1, days=1, seconds=3 / 8)
