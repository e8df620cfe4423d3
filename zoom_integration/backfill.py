"""Which windows of Zoom's meeting lists a tenant still has to reconcile, and the backfill that
a first authorization (or one after a gap) asks for.

Kept apart from `reconcile.py` (which lists and stores, through the client) so that the OAuth
flow can ask for a backfill without importing the client it is itself a dependency of: this
module only writes `ZoomReconcileState` and queues the run through `queueing.py`.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import queueing
from .models.metrics import MeetingKind
from .models.reconcile import ZoomReconcileState

logger = logging.getLogger(__name__)

# Zoom: `from`/`to` at most one month apart. 28 days (both ends included) never exceeds a
# calendar month, whatever month it starts in.
MAX_WINDOW_DAYS = 28
# Zoom's lists reach about six months back; older windows would be refused.
MAX_LOOKBACK_DAYS = 180
KINDS = (MeetingKind.MEETING, MeetingKind.WEBINAR)


# --- settings --------------------------------------------------------------------------------

def reconcile_interval() -> timedelta:
    return timedelta(minutes=int(getattr(settings, "ZOOM_RECONCILE_INTERVAL_MINUTES", 60)))


def reconcile_days() -> int:
    """Days the scheduled run lists (default 1: yesterday and today, overlapping runs)."""
    return int(getattr(settings, "ZOOM_RECONCILE_DAYS", 1))


def backfill_days() -> int:
    return int(getattr(settings, "ZOOM_BACKFILL_DAYS", 7))


# --- windows ---------------------------------------------------------------------------------

def reconcile_windows(*, date_from: date, date_to: date) -> list[tuple[date, date]]:
    """[date_from, date_to] cut into pieces Zoom accepts, newest first."""
    pieces = []
    end = date_to
    while end >= date_from:
        start = max(date_from, end - timedelta(days=MAX_WINDOW_DAYS - 1))
        pieces.append((start, end))
        end = start - timedelta(days=1)
    return pieces


def days_clamp(days: int) -> int:
    """Days within what Zoom's lists reach; raises ValueError below one."""
    if days < 1:
        raise ValueError("days must be at least 1")
    return min(days, MAX_LOOKBACK_DAYS)


def _pieces(*, days: int, origin: str, today: date) -> list[dict]:
    out = []
    for start, end in reconcile_windows(date_from=today - timedelta(days=days), date_to=today):
        out.extend({"kind": str(kind), "from": start.isoformat(), "to": end.isoformat(),
                    "origin": origin} for kind in KINDS)
    return out


def _key(piece: dict) -> tuple:
    return piece.get("kind"), piece.get("from"), piece.get("to")


def _covered(piece: dict, pending: list[dict]) -> bool:
    return any(p.get("kind") == piece["kind"] and p.get("from", "") <= piece["from"]
               and p.get("to", "") >= piece["to"] for p in pending)


def _today() -> date:
    return datetime.now(UTC).date()


def _state_for_update(tenant) -> ZoomReconcileState:
    ZoomReconcileState.objects.get_or_create(tenant=tenant)
    return ZoomReconcileState.objects.select_for_update().get(tenant=tenant)


def reconcile_pieces_add(*, tenant, days: int, origin: str, today: date | None = None) -> int:
    """Adds the windows of the last `days` days to the tenant's pending list; returns how many
    were new (a window already covered by a pending one is not added twice)."""
    new = _pieces(days=days_clamp(days), origin=origin, today=today or _today())
    with transaction.atomic():
        state = _state_for_update(tenant)
        pending = [p for p in state.pending or [] if isinstance(p, dict)]
        added = [p for p in new if not _covered(p, pending)]
        if not added:
            return 0
        if not pending:  # a new job: progress starts again
            state.job_total, state.job_done, state.job_origin = len(added), 0, origin
        else:
            state.job_total += len(added)
        kind_order = {str(k): i for i, k in enumerate(KINDS)}
        # Newest first: recent meetings matter most, the oldest wait last.
        state.pending = sorted(pending + added, key=lambda p: (
            p.get("to", ""), p.get("from", ""), -kind_order.get(p.get("kind"), 9)), reverse=True)
        state.save(update_fields=["pending", "job_total", "job_done", "job_origin"])
    return len(added)


# --- backfill on connect ------------------------------------------------------------------------

def reconcile_queue(*, tenant_id: int, countdown: float = 0) -> None:
    """Queues the per-tenant run; a lost message is made good by the beat."""
    queueing.reconcile_enqueue(tenant_id=tenant_id, countdown=countdown)


def reconcile_backfill_request(*, tenant, now: datetime | None = None) -> int | None:
    """After OAuth success: reconcile the last `ZOOM_BACKFILL_DAYS` days when this is the first
    authorization, or the gap since the last complete reconcile (at most that many days).

    Returns the days queued, or None when the scheduled runs are current (no gap). The run is
    queued once the caller's transaction commits.
    """
    now = now or timezone.now()
    state = ZoomReconcileState.objects.filter(tenant=tenant).first()
    days = backfill_days()
    if state is not None and state.last_complete_at is not None:
        gap = now - state.last_complete_at
        if gap <= 2 * reconcile_interval():
            return None
        days = min(days, max(1, math.ceil(gap / timedelta(days=1))))
    if days < 1:
        return None
    reconcile_pieces_add(tenant=tenant, days=days, origin="backfill")
    ZoomReconcileState.objects.filter(tenant=tenant).update(
        backfill_requested_at=now, backfill_days=days_clamp(days), queued_at=now)
    tenant_id = tenant.pk
    transaction.on_commit(lambda: reconcile_queue(tenant_id=tenant_id), robust=True)
    logger.info("tenant %s: backfill of the last %d day(s) queued", tenant.slug, days)
    return days


def reconcile_backfill_on_connect(*, tenant) -> int | None:
    """The OAuth hook: `reconcile_backfill_request` that can never break the authorization."""
    try:
        with transaction.atomic():  # a savepoint: a failure here leaves the caller's work intact
            return reconcile_backfill_request(tenant=tenant)
    except Exception:
        logger.exception("tenant %s: could not queue the backfill; the beat's reconcile still "
                         "runs", tenant.pk)
        return None
