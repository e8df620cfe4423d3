"""A tenant's Zoom call budget: what waits for the daily reset, and when it will have cleared.

A meeting's metrics cost 1 + ceil(n/300) + ceil(n/10) "Heavy" calls for n participants (the
detail, the participant list by 300, the per-minute QoS by 10 participants a page), and Heavy
and Resource-intensive calls share one daily cap per account (60,000 on Business; Zoom's rate
limits: https://developers.zoom.us/docs/api/rest/rate-limits/). When a tenant's day runs out,
fetches are parked until 00:00 UTC and resumed oldest first (`metrics.metrics_parked_resume`).
A fetch books its pages before the first one (`ratelimit.RateLimiter.calls_book`), so the cap
parks a meeting whole, never half-fetched: each meeting costs the floor above once.
`tenant_fetch_backlog` says how many wait, since when, and when they should be through: the
estimate a support engineer needs on the tenant's health page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Avg, Min
from django.utils import timezone

from tenants.models import Tenant

from .models import ZoomMeeting
from .models.metrics import FetchStatus
from .ratelimit import HEAVY, plan_limits, seconds_until_utc_midnight

PARTICIPANTS_PAGE = 300  # GET /past_meetings/{uuid}/participants, page_size maximum
QOS_PAGE = 10  # GET /metrics/meetings/{uuid}/participants/qos, page_size maximum
# Used to price a backlog before any meeting of the tenant was fetched.
DEFAULT_PARTICIPANTS = 10


def meeting_calls(participants: int) -> int:
    """Heavy calls one meeting's metrics cost: detail, participant pages, QoS pages."""
    return 1 + meeting_page_calls(participants)


def meeting_page_calls(participants: int) -> int:
    """Heavy calls after the detail: the participant pages and the QoS pages (the block a
    fetch books before its first page, so a day's cap never cuts it in the middle)."""
    return max(1, math.ceil(participants / PARTICIPANTS_PAGE)) \
        + max(1, math.ceil(participants / QOS_PAGE))


@dataclass(frozen=True)
class FetchBacklog:
    parked: int  # meetings waiting for the reset
    oldest_end: datetime | None  # when the longest-waiting of them ended
    resumes_at: datetime | None  # the next reset, when they start again
    calls_per_meeting: float  # the estimate used: the tenant's recent average
    daily_cap: int | None  # Heavy + Resource-intensive calls a day
    clears_by: datetime | None  # when the last of them should be fetched


def tenant_fetch_backlog(*, tenant: Tenant, now: datetime | None = None) -> FetchBacklog:
    """The tenant's meetings parked on the daily limit, and when they should have cleared.

    The clearing time assumes each day's whole budget goes to the backlog, at the tenant's
    recent calls per meeting (the last 7 days' fetched meetings).
    """
    now = now or timezone.now()
    parked = ZoomMeeting.objects.filter(tenant=tenant, fetch_status=FetchStatus.PARKED)
    summary = parked.aggregate(oldest=Min("end_time"), resumes=Min("next_attempt_at"))
    count = parked.count()
    recent = ZoomMeeting.objects.filter(
        tenant=tenant, fetch_status=FetchStatus.DONE, fetched_at__gte=now - timedelta(days=7)
    ).aggregate(participants=Avg("participants_count"))["participants"]
    per_meeting = float(meeting_calls(round(recent) if recent is not None
                                      else DEFAULT_PARTICIPANTS))
    limits, cap = plan_limits(tenant.zoom_plan or "business")
    resumes_at = clears_by = None
    if count:
        resumes_at = max(now, summary["resumes"] or now + timedelta(
            seconds=seconds_until_utc_midnight(now)))
        calls = count * per_meeting
        # Whole days of the cap first; the last day's share then goes at the Heavy rate the
        # portal keeps to (80 % of Zoom's per-second limit).
        full_days = math.ceil(calls / cap) - 1 if cap else 0
        rest = calls - full_days * cap if cap else calls
        per_second = 0.8 * limits[HEAVY].calls / limits[HEAVY].period
        clears_by = resumes_at + timedelta(days=full_days, seconds=rest / per_second)
    return FetchBacklog(parked=count, oldest_end=summary["oldest"], resumes_at=resumes_at,
                        calls_per_meeting=per_meeting, daily_cap=cap, clears_by=clears_by)
