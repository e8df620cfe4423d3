"""Fair sharing between tenants: each tenant's cap on concurrent meeting fetches (real Redis)."""

import time

import pytest
from celery.exceptions import Retry

from tests.factories import TenantFactory
from zoom_integration import fairness
from zoom_integration.fairness import (
    TenantAtCapacity,
    tenant_fetch_slot,
    tenant_fetches_running,
)
from zoom_integration.models import ZoomMeeting

pytestmark = pytest.mark.django_db


def test_a_tenant_at_its_cap_is_refused_while_another_tenant_is_not(settings):
    settings.ZOOM_TENANT_FETCH_SLOTS = 2
    with tenant_fetch_slot(tenant_id=1, holder="a1"), tenant_fetch_slot(tenant_id=1, holder="a2"):
        assert tenant_fetches_running(tenant_id=1) == 2
        with pytest.raises(TenantAtCapacity) as refused, \
                tenant_fetch_slot(tenant_id=1, holder="a3"):
            pytest.fail("a third fetch ran beside two")
        # Each refusal waits longer, up to the ceiling.
        first = refused.value.countdown(refusals=0)
        assert 0.5 * fairness.REQUEUE_BASE_SECONDS <= first <= fairness.REQUEUE_BASE_SECONDS
        assert refused.value.countdown(refusals=3) >= 4 * 0.5 * fairness.REQUEUE_BASE_SECONDS
        assert refused.value.countdown(refusals=50) <= fairness.REQUEUE_MAX_SECONDS
        with tenant_fetch_slot(tenant_id=2, holder="b1"):
            assert tenant_fetches_running(tenant_id=2) == 1
    # Released on the way out: the tenant's next fetch runs.
    assert tenant_fetches_running(tenant_id=1) == 0
    with tenant_fetch_slot(tenant_id=1, holder="a3"):
        assert tenant_fetches_running(tenant_id=1) == 1


def test_a_slot_is_released_when_the_fetch_fails(settings):
    settings.ZOOM_TENANT_FETCH_SLOTS = 1
    with pytest.raises(RuntimeError), tenant_fetch_slot(tenant_id=7, holder="x"):
        raise RuntimeError("Zoom broke")
    assert tenant_fetches_running(tenant_id=7) == 0


def test_a_dead_workers_slot_ends_with_its_lease(settings, redis_client):
    settings.ZOOM_TENANT_FETCH_SLOTS = 1
    # A fetch whose worker died: its lease ran out a second ago.
    redis_client.zadd(fairness._key(3), {"dead-worker-task": time.time() - 1})
    with tenant_fetch_slot(tenant_id=3, holder="next"):
        assert tenant_fetches_running(tenant_id=3) == 1


def test_the_fetch_task_goes_back_to_the_queue_when_its_tenant_is_at_the_cap(settings):
    from zoom_integration.tasks.metrics import metrics_fetch_task

    settings.ZOOM_TENANT_FETCH_SLOTS = 1
    tenant = TenantFactory()
    meeting = ZoomMeeting.objects.create(tenant=tenant, uuid="fair-1==", kind="meeting")
    with tenant_fetch_slot(tenant_id=tenant.pk, holder="another-fetch"), \
            pytest.raises(Retry) as retried:
        metrics_fetch_task.apply(args=[meeting.pk], throw=True)
    # Re-queued with a short countdown: nothing of its tenant waits ahead of it.
    assert fairness.REQUEUE_BASE_SECONDS <= retried.value.when < 1.5 * fairness.REQUEUE_BASE_SECONDS
    meeting.refresh_from_db()
    assert meeting.fetch_attempts == 0  # nothing was fetched or counted
    assert tenant_fetches_running(tenant_id=tenant.pk) == 0


def test_a_refused_fetch_waits_longer_the_more_older_fetches_of_its_tenant_wait(settings):
    from datetime import UTC, datetime, timedelta

    from zoom_integration.fairness import refused_fetch_countdown

    settings.ZOOM_TENANT_FETCH_SLOTS = 2
    tenant, other = TenantFactory(), TenantFactory()
    start = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)

    def scheduled(owner, minutes: int, status="scheduled"):
        return ZoomMeeting.objects.create(tenant=owner, uuid=f"w{owner.pk}-{minutes}-{status}",
                                          kind="meeting", fetch_status=status,
                                          end_time=start + timedelta(minutes=minutes))

    oldest = scheduled(tenant, 0)
    backlog = [scheduled(tenant, m) for m in range(1, 9)]
    youngest = scheduled(tenant, 100)
    scheduled(tenant, -5, status="done")  # finished: not ahead of anyone
    for m in range(-20, 0):
        scheduled(other, m)  # another tenant's: not ahead either
    base = fairness.REQUEUE_BASE_SECONDS
    step = base / 2  # two slots
    assert base <= refused_fetch_countdown(meeting_id=oldest.pk) < base + step / 2
    # Nine ahead of the youngest: nine steps more.
    assert base + 9 * step <= refused_fetch_countdown(meeting_id=youngest.pk) < base + 9.5 * step
    waits = [refused_fetch_countdown(meeting_id=m.pk) for m in (oldest, *backlog, youngest)]
    assert waits == sorted(waits)  # strictly by age, whatever the jitter
    ZoomMeeting.objects.filter(pk__in=[m.pk for m in backlog]).update(fetch_status="done")
    # The older ones done: the youngest now comes back after one older fetch's share.
    assert base + step <= refused_fetch_countdown(meeting_id=youngest.pk) < base + 1.5 * step
