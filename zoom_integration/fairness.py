"""Fair sharing of the workers between tenants: a cap on each tenant's concurrent Zoom work.

All tenants share the Celery queues, so one customer's burst (a day of large webinars ending,
a backfill) would otherwise fill every worker while another customer's meeting waits behind
it. A meeting fetch first takes one of its tenant's TENANT_FETCH_SLOTS slots (a Redis sorted
set per tenant, shared by every worker); a fetch that finds its tenant at the cap goes back to
the queue with a short countdown (`TenantAtCapacity`, re-queued by the task), which frees the
worker at once for the next message: another tenant's. With W worker processes and a cap
below W, another tenant always finds a worker within one task's time.

The bulk work has its own queue ("sync": one full directory sync per tenant at a time, under its
own lock), and a sync holds one of its tenant's slots too: a tenant's 100,000-user sync and its
meeting fetches together stay within the cap.

Slots are leases (SLOT_LEASE_SECONDS, longer than the task's hard time limit): a worker killed
mid-fetch cannot hold its tenant's slot for ever. Without Redis (the embedded development
broker) there is no cap. `ZOOM_FAIR_SHARING = False` in settings turns the cap and the
priorities below off (plain first-come-first-served queues; the fairness benchmark compares).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

logger = logging.getLogger(__name__)

# Concurrent meeting fetches per tenant, across all workers. Settings may lower or raise it.
TENANT_FETCH_SLOTS_DEFAULT = 2
SLOT_LEASE_SECONDS = 35 * 60  # over CELERY_TASK_TIME_LIMIT (30 min)
# Countdown of a fetch that found its tenant at the cap: doubling with each time it did, so a
# tenant's backlog of hundreds does not keep the workers busy turning it away.
REQUEUE_BASE_SECONDS = 1.0
REQUEUE_MAX_SECONDS = 30.0

_ACQUIRE = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[4])
  return 1
end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[4])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3])))
  return 1
end
return 0
"""

_lock = threading.Lock()
_clients: dict[str, object] = {}


class TenantAtCapacity(Exception):
    """The tenant already runs its share of fetches: queue this one again (`countdown`)."""

    def __init__(self, tenant_id: int):
        super().__init__(f"tenant {tenant_id} is at its fetch cap")
        self.tenant_id = tenant_id

    def countdown(self, *, refusals: int) -> float:
        """Seconds to wait after being refused `refusals` times before (0 the first time):
        doubling up to REQUEUE_MAX_SECONDS, with jitter so a backlog spreads out."""
        wait = min(REQUEUE_MAX_SECONDS, REQUEUE_BASE_SECONDS * 2 ** min(refusals, 8))
        return random.uniform(0.5 * wait, wait)


def fair_sharing() -> bool:
    return bool(getattr(settings, "ZOOM_FAIR_SHARING", True))


def _redis():
    url = getattr(settings, "REDIS_URL", "")
    if not url or not fair_sharing():
        return None
    with _lock:
        client = _clients.get(url)
        if client is None:
            import redis

            client = redis.Redis.from_url(url)
            _clients[url] = client
        return client


def _key(tenant_id: int) -> str:
    return f"zoom:fair:fetch:{tenant_id}"


def tenant_fetch_slots() -> int:
    return int(getattr(settings, "ZOOM_TENANT_FETCH_SLOTS", TENANT_FETCH_SLOTS_DEFAULT))


@contextmanager
def tenant_fetch_slot(*, tenant_id: int, holder: str) -> Iterator[None]:
    """Holds one of the tenant's fetch slots for the block; raises `TenantAtCapacity` when none
    is free. `holder` names the attempt (the task id): taking the slot again is a no-op."""
    client = _redis()
    if client is None:
        yield
        return
    key = _key(tenant_id)
    if not client.eval(_ACQUIRE, 1, key, time.time(), tenant_fetch_slots(),
                       SLOT_LEASE_SECONDS, holder):
        raise TenantAtCapacity(tenant_id)
    try:
        yield
    finally:
        try:
            client.zrem(key, holder)
        except Exception:  # the lease ends it anyway
            logger.warning("could not release tenant %s's fetch slot", tenant_id, exc_info=True)


def tenant_fetches_running(*, tenant_id: int) -> int:
    """Fetches holding one of the tenant's slots now (for tests and the health page)."""
    client = _redis()
    if client is None:
        return 0
    return int(client.zcount(_key(tenant_id), time.time(), "+inf"))


def refused_fetch_countdown(*, meeting_id: int) -> float:
    """Seconds before a meeting fetch refused for its tenant's cap comes back.

    Longer the more of its tenant's scheduled fetches are ahead of it (older meetings first,
    as `metrics_parked_resume` queues a backlog): the oldest comes back after about
    REQUEUE_BASE_SECONDS, the one behind `slots` others after twice that, and so on up to
    REQUEUE_MAX_SECONDS. Each refusal measures again, so as the older ones finish the younger
    ones' waits shrink, and a backlog drains oldest first instead of in the random order that
    repeated, jittered refusals would leave it in.
    """
    from django.db.models import Q

    from .models import ZoomMeeting
    from .models.metrics import FetchStatus

    meeting = ZoomMeeting.objects.filter(pk=meeting_id).values(
        "tenant_id", "end_time").first()
    if meeting is None:
        return REQUEUE_BASE_SECONDS
    end = meeting["end_time"]
    older = Q(end_time__isnull=True, pk__lt=meeting_id)
    if end is not None:
        older |= Q(end_time__isnull=True) | Q(end_time__lt=end) | Q(end_time=end,
                                                                      pk__lt=meeting_id)
    ahead = ZoomMeeting.objects.filter(older, tenant_id=meeting["tenant_id"],
                                       fetch_status=FetchStatus.SCHEDULED).count()
    step = REQUEUE_BASE_SECONDS / max(1, tenant_fetch_slots())
    # Jitter under half a step spreads equal waits without passing the next older fetch.
    return min(REQUEUE_MAX_SECONDS,
               REQUEUE_BASE_SECONDS + ahead * step + random.uniform(0, step / 2))


@contextmanager
def meeting_fetch_slot(*, meeting_id: int, holder: str) -> Iterator[None]:
    """`tenant_fetch_slot` for the tenant owning the meeting (none needed if it is gone)."""
    from .models import ZoomMeeting

    tenant_id = (ZoomMeeting.objects.filter(pk=meeting_id)
                 .values_list("tenant_id", flat=True).first())
    if tenant_id is None:
        yield
        return
    with tenant_fetch_slot(tenant_id=tenant_id, holder=holder):
        yield


# --- Order in the queues ------------------------------------------------------------------------
# The cap alone leaves a tenant's backlog ahead of everyone else's work in the same queue: each
# of its messages must still be taken and turned away. So messages also carry a Celery priority
# from their tenant's backlog (the Redis transport keeps one list per priority step, 0, 3, 6 and
# 9, and takes from the lowest number first): a tenant with little waiting goes ahead of one
# with hundreds, and within a priority messages stay first in, first out.
BACKLOG_PRIORITY_STEPS = ((5, 0), (20, 3), (100, 6))  # (backlog below, priority); else LOWEST
LOWEST_PRIORITY = 9  # refused for the cap, resumed after a daily reset


def backlog_priority(backlog: int) -> int:
    """The queue priority of a tenant's next message when `backlog` of its messages wait."""
    for below, priority in BACKLOG_PRIORITY_STEPS:
        if backlog < below:
            return priority
    return LOWEST_PRIORITY


def tenant_fetch_priority(*, tenant_id: int) -> int | None:
    """Priority of a new meeting fetch: from the tenant's fetches scheduled or under way."""
    if not fair_sharing():
        return None
    from .models import ZoomMeeting
    from .models.metrics import FetchStatus

    waiting = ZoomMeeting.objects.filter(tenant_id=tenant_id, fetch_status__in=(
        FetchStatus.SCHEDULED, FetchStatus.WAITING, FetchStatus.FETCHING)).count()
    return backlog_priority(waiting)


def delivery_priorities(*, claimed: list[tuple[int, int]]) -> dict[int, int]:
    """Priorities for webhook deliveries being queued, `claimed` as (delivery id, tenant id):
    from each tenant's deliveries already queued and not yet processed, plus those ahead of it
    in this batch."""
    from django.db.models import Count

    from .models import DeliveryStatus, ZoomWebhookDelivery

    if not fair_sharing():
        return {}
    tenants = {tenant_id for _pk, tenant_id in claimed}
    queued = dict(ZoomWebhookDelivery.objects.filter(
        tenant_id__in=tenants, status=DeliveryStatus.PENDING, queued_at__isnull=False)
        .exclude(pk__in=[pk for pk, _t in claimed])
        .values("tenant_id").annotate(n=Count("id")).values_list("tenant_id", "n"))
    seen: dict[int, int] = {}
    out = {}
    for pk, tenant_id in sorted(claimed):
        out[pk] = backlog_priority(queued.get(tenant_id, 0) + seen.get(tenant_id, 0))
        seen[tenant_id] = seen.get(tenant_id, 0) + 1
    return out
