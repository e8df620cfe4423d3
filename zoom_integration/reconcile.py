"""Nothing missed: reconcile what is stored with Zoom's lists of past meetings and webinars.

A meeting exists for the portal when its `meeting.ended` event arrived. Events can be lost
(Zoom stops retrying after about 85 minutes, an event can be unsubscribed, the portal can be
down longer than that, a customer can authorize after a week of meetings), but Zoom's Dashboard
lists every past meeting and webinar (`GET /metrics/meetings|webinars?type=past&from&to`,
https://developers.zoom.us/docs/api/accounts/#tag/dashboards/GET/metrics/meetings). This module
lists a window, stores each instance it does not know (by `uuid`) and schedules its metrics
fetch exactly once (through `metrics.metrics_fetch_schedule`, like the event would), and keeps
Zoom's own quality labels of every listed meeting.

Owns
- `reconcile_run`: one run for a tenant: windows split at Zoom's one-month limit, newest first,
  300 rows a page, every call through the client (shared rate limiter and daily cap). Each page is
  stored in its own transaction, so a stop loses nothing; the windows still to list live on
  `ZoomReconcileState.pending`, so a run stopped by the daily cap continues after the reset.
- `reconcile_backfill_request`: on a first authorization (or one after a gap), queue the last
  `ZOOM_BACKFILL_DAYS` days; staff see its progress (windows done / total).
- `reconcile_due_enqueue` (beat) and `reconcile_tenant_attempt` (the per-tenant task's one call).

Cost: one Resource-intensive call per 300 meetings per window, two windows (meetings and
webinars) per month of history; the hourly run of a quiet account spends two calls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from .backfill import (
    _key,
    days_clamp,
    reconcile_days,
    reconcile_interval,
    reconcile_pieces_add,
    reconcile_queue,
)
from .client import CODE_PAGE_TOKEN_EXPIRED, ZoomClient
from .exceptions import (
    ReauthorizationRequiredError,
    ZoomAPIError,
    ZoomDashboardUnavailableError,
    ZoomError,
    ZoomRateLimitedError,
    ZoomTransientError,
)
from .fields import aware_datetime, text
from .metrics import dashboard_unavailable_mark, metrics_fetch_schedule
from .models import ConnectionState, ZoomConnection, ZoomMeeting
from .models.metrics import FetchStatus, MeetingKind
from .models.reconcile import ReconcileStatus, ZoomReconcileState
from .zoom import CODE_SCOPE_MISSING

logger = logging.getLogger(__name__)

Progress = Callable[[int, int | None], None]

ROWS_KEY = {MeetingKind.MEETING: "meetings", MeetingKind.WEBINAR: "webinars"}
# A run holds its tenant this long at most (the task's hard time limit); then another may start.
LEASE = timedelta(minutes=30)
TRANSIENT_WAIT = timedelta(minutes=10)
LABEL_FIELDS = {"audio_quality": "zoom_audio_quality", "video_quality": "zoom_video_quality",
                "screen_share_quality": "zoom_screen_share_quality"}
# List-row fields kept on the meeting until its dashboard detail replaces them.
_DETAIL_KEYS = ("host", "user_type", "dept", "participants", "has_pstn", "has_voip",
                "has_3rd_party_audio", "has_video", "has_screen_share", "has_recording",
                "has_sip", "has_archiving")


class ReconcileBusyError(ZoomError):
    """Another run holds this tenant's reconcile (a worker, or the command elsewhere)."""


def _piece_done(state_pk: int, piece: dict, *, dropped: bool = False) -> None:
    with transaction.atomic():
        state = ZoomReconcileState.objects.select_for_update().get(pk=state_pk)
        state.pending = [p for p in state.pending or [] if _key(p) != _key(piece)]
        state.job_done = min(state.job_total, state.job_done + 1)
        state.save(update_fields=["pending", "job_done"])
    if dropped:
        logger.info("reconcile window %s dropped", _key(piece))


def _drop_kind(state_pk: int, kind: str) -> int:
    with transaction.atomic():
        state = ZoomReconcileState.objects.select_for_update().get(pk=state_pk)
        before = len(state.pending or [])
        state.pending = [p for p in state.pending or [] if p.get("kind") != kind]
        dropped = before - len(state.pending)
        state.job_done = min(state.job_total, state.job_done + dropped)
        state.save(update_fields=["pending", "job_done"])
    return dropped


# --- storing one page --------------------------------------------------------------------------

def quality_label(value) -> str:
    """Zoom's label as stored: lower case, trimmed; "" when absent. Unknown words are kept."""
    if value is None or isinstance(value, dict | list):
        return ""
    return text(value, 16).strip().lower()


def _duration_minutes(start, end, raw) -> int | None:
    if start and end and end >= start:
        return int((end - start).total_seconds() // 60)
    if isinstance(raw, int) and raw >= 0:
        return raw
    if isinstance(raw, str) and raw.replace(":", "").isdigit():
        parts = [int(p) for p in raw.split(":")]  # "47:38" (mm:ss) or "1:02:03" (h:mm:ss)
        return parts[0] * 60 + parts[1] if len(parts) == 3 else parts[0]
    return None


def _new_meeting_fields(kind: str, row: dict, now: datetime) -> dict:
    start, end = aware_datetime(row.get("start_time")), aware_datetime(row.get("end_time"))
    fields = {
        "kind": kind,
        "zoom_meeting_id": text(row.get("id"), 32),
        "topic": text(row.get("topic"), 512),
        "host_zoom_id": text(row.get("host_id"), 64),
        "host_email": text(row.get("email"), 254),
        "start_time": start,
        "end_time": end,
        "duration_minutes": _duration_minutes(start, end, row.get("duration")),
        "reconciled_at": now,
        "fetch_status": FetchStatus.SCHEDULED,
        "details": {k: row[k] for k in _DETAIL_KEYS
                    if k in row and isinstance(row[k], str | int | float | bool)},
    }
    for zoom_name, field in LABEL_FIELDS.items():
        fields[field] = quality_label(row.get(zoom_name))
    return fields


def _fetch_countdown(end_time: datetime | None, now: datetime) -> float:
    """Zoom needs minutes after the end; a meeting that ended long ago is fetched at once."""
    delay = float(getattr(settings, "ZOOM_METRICS_FETCH_DELAY_SECONDS", 120))
    if end_time is None:
        return delay
    return max(0.0, delay - (now - end_time).total_seconds())


def _store_rows(*, tenant, kind: str, rows, summary: dict, seen: set, now: datetime) -> None:
    rows = rows if isinstance(rows, list) else []
    summary["listed"] += len(rows)
    valid: dict[str, dict] = {}
    for row in rows:
        uuid = text(row.get("uuid"), 128).strip() if isinstance(row, dict) else ""
        if not uuid:
            summary["skipped"] += 1  # a row Zoom sent without its instance uuid: unusable
            continue
        if uuid in seen:
            summary["duplicates"] += 1
            continue
        seen.add(uuid)
        valid[uuid] = row
    if not valid:
        return
    with transaction.atomic():
        existing = {m.uuid: m for m in ZoomMeeting.objects.filter(
            tenant=tenant, uuid__in=list(valid)).only("pk", "uuid", *LABEL_FIELDS.values())}
        changed = []
        for uuid, meeting in existing.items():
            summary["known"] += 1
            row, dirty = valid[uuid], False
            for zoom_name, field in LABEL_FIELDS.items():
                label = quality_label(row.get(zoom_name))
                if label and getattr(meeting, field) != label:
                    setattr(meeting, field, label)
                    dirty = True
            if dirty:
                changed.append(meeting)
        if changed:
            ZoomMeeting.objects.bulk_update(changed, list(LABEL_FIELDS.values()))
            summary["labels_updated"] += len(changed)
        for uuid, row in valid.items():
            if uuid in existing:
                continue
            fields = _new_meeting_fields(kind, row, now)
            if not tenant.is_active:
                fields["fetch_status"] = FetchStatus.SKIPPED
            # get_or_create: an event for the same instance may be stored at this moment;
            # whichever creates the row schedules the fetch, the other finds it.
            meeting, created = ZoomMeeting.objects.get_or_create(tenant=tenant, uuid=uuid,
                                                                 defaults=fields)
            if not created:
                summary["known"] += 1
                continue
            summary["missing"] += 1
            if tenant.is_active:
                metrics_fetch_schedule(meeting, countdown=_fetch_countdown(meeting.end_time, now))
                summary["queued"] += 1


def _list_piece(*, client: ZoomClient, tenant, piece: dict, summary: dict, seen: set,
                now: datetime) -> None:
    kind = piece["kind"]
    date_from, date_to = date.fromisoformat(piece["from"]), date.fromisoformat(piece["to"])
    lister = client.past_webinars_list if kind == MeetingKind.WEBINAR else \
        client.past_meetings_list
    for attempt in (1, 2):
        pages = 0
        try:
            for page in lister(date_from=date_from, date_to=date_to):
                pages += 1
                summary["pages"] += 1
                _store_rows(tenant=tenant, kind=kind, rows=page.get(ROWS_KEY[kind]),
                            summary=summary, seen=seen, now=now)
            return
        except ZoomTransientError as exc:
            if exc.code != CODE_PAGE_TOKEN_EXPIRED:
                raise
            if pages == 0:
                # Code 300 without a page token is permanent (e.g. "Can not access webinar
                # info" on an account without webinars).
                raise _KindUnavailable(str(exc)) from None
            if attempt == 2:
                raise
            # The next_page_token expired (15 minutes): list the window again; rows already
            # stored are found, not stored twice.


class _KindUnavailable(Exception):
    pass


# --- the run ----------------------------------------------------------------------------------

def _claim(state_pk: int, now: datetime) -> bool:
    return bool(ZoomReconcileState.objects.filter(pk=state_pk).filter(
        Q(run_started_at__isnull=True) | Q(run_started_at__lt=now - LEASE)
    ).update(run_started_at=now, status=ReconcileStatus.RUNNING))


def _empty_summary() -> dict:
    return {"listed": 0, "missing": 0, "queued": 0, "skipped": 0, "known": 0,
            "duplicates": 0, "labels_updated": 0, "pages": 0, "windows": 0,
            "windows_left": 0, "errors": [], "complete": False, "stopped": None,
            "resume_at": None, "api_calls": 0}


def reconcile_run(*, tenant, days: int | None = None, origin: str = "hourly",
                  progress: Progress | None = None, client: ZoomClient | None = None) -> dict:
    """Lists the pending windows (plus the last `days` days, if given) and stores what is missing.

    Returns {"listed", "missing", "queued", "skipped", "known", "labels_updated", "pages",
    "windows", "windows_left", "complete", "stopped", "resume_at", "errors", "api_calls",
    "days"}. Raises ReconcileBusyError when another run holds the tenant. Zoom's errors do not
    escape: they stop the run (windows kept for later) and are recorded on the state.
    """
    summary = _empty_summary()
    if days is not None:
        summary["days"] = days_clamp(days)
        reconcile_pieces_add(tenant=tenant, days=days, origin=origin)
    state, _ = ZoomReconcileState.objects.get_or_create(tenant=tenant)
    now = timezone.now()
    if not _claim(state.pk, now):
        raise ReconcileBusyError(f"a reconcile of tenant {tenant.slug} is already running")
    own_client = client is None
    client = client or ZoomClient(tenant)
    status, error, waiting_until = ReconcileStatus.DONE, "", None
    seen: set[str] = set()
    try:
        while True:
            state.refresh_from_db(fields=["pending", "job_total", "job_done"])
            pending = [p for p in state.pending or [] if isinstance(p, dict)]
            if progress is not None:
                progress(state.job_done, state.job_total or None)
            if not pending:
                summary["complete"] = True
                break
            piece = pending[0]
            try:
                _list_piece(client=client, tenant=tenant, piece=piece, summary=summary,
                            seen=seen, now=now)
            except ZoomRateLimitedError as exc:
                # The daily cap (ours or Zoom's) or a long per-second queue: the rest waits.
                summary["stopped"] = "daily_limit" if exc.daily else "rate_limited"
                waiting_until = timezone.now() + timedelta(seconds=exc.retry_after_seconds)
                status, error = ReconcileStatus.WAITING, str(exc)
                break
            except ZoomDashboardUnavailableError as exc:
                dashboard_unavailable_mark(tenant=tenant, error=str(exc))
                _drop_kind(state.pk, MeetingKind.MEETING)
                _drop_kind(state.pk, MeetingKind.WEBINAR)
                summary["stopped"] = "no_dashboard"
                status, error = ReconcileStatus.UNAVAILABLE, str(exc)
                break
            except _KindUnavailable as exc:
                _drop_kind(state.pk, piece["kind"])
                summary["errors"].append(f"{piece['kind']}s not available: {exc}")
                continue
            except (ReauthorizationRequiredError, ZoomTransientError) as exc:
                summary["stopped"] = "error"
                waiting_until = timezone.now() + TRANSIENT_WAIT
                status, error = ReconcileStatus.FAILED, f"{type(exc).__name__}: {exc}"
                break
            except ZoomAPIError as exc:
                if exc.code == CODE_SCOPE_MISSING:
                    # The token lacks this kind's list scope: the other kind still works.
                    _drop_kind(state.pk, piece["kind"])
                    summary["errors"].append(f"{piece['kind']}s: missing scope: {exc}")
                    continue
                if exc.status == 401:
                    summary["stopped"] = "error"
                    status, error = ReconcileStatus.FAILED, f"{type(exc).__name__}: {exc}"
                    break
                # Refused for good (a bad window, say): drop it rather than stall every run.
                _piece_done(state.pk, piece, dropped=True)
                summary["errors"].append(f"{_key(piece)}: {exc}")
                continue
            _piece_done(state.pk, piece)
            summary["windows"] += 1
    finally:
        summary["api_calls"] = client.calls
        if own_client:
            client.close()
        state.refresh_from_db()
        summary["windows_left"] = len(state.pending or [])
        summary["resume_at"] = waiting_until.isoformat() if waiting_until else None
        if summary["errors"] and status == ReconcileStatus.DONE:
            error = "; ".join(summary["errors"])[:2000]
        state.status = status
        state.last_error = error[:2000]
        state.waiting_until = waiting_until
        state.run_started_at = None
        state.last_run_at = now
        state.meetings_found = F("meetings_found") + summary["missing"]
        if summary["complete"]:
            state.last_complete_at = now
        state.last_summary = {k: v for k, v in summary.items() if k != "errors"} | {
            "errors": summary["errors"][:10]}
        # Not `pending`: a backfill request may have added windows meanwhile.
        state.save(update_fields=["status", "last_error", "waiting_until", "run_started_at",
                                  "last_run_at", "meetings_found", "last_complete_at",
                                  "last_summary"])
    return summary


# --- beat and task ---------------------------------------------------------------------------

def _connected_tenant_ids() -> list[int]:
    return list(ZoomConnection.objects.filter(
        state=ConnectionState.CONNECTED, tenant__is_active=True
    ).values_list("tenant_id", flat=True))


def reconcile_due_enqueue(*, now: datetime | None = None) -> int:
    """Beat: queues a run for each connected tenant that is due; returns how many.

    Due: never run, or the last run older than `ZOOM_RECONCILE_INTERVAL_MINUTES`, or windows
    pending (a backfill, the rest after a limit) and not waiting for a reset. A tenant whose
    run was queued recently is not queued again.
    """
    now = now or timezone.now()
    interval = reconcile_interval()
    requeue_after = min(interval, timedelta(minutes=15))
    tenant_ids = _connected_tenant_ids()
    states = {s.tenant_id: s for s in ZoomReconcileState.objects.filter(
        tenant_id__in=tenant_ids)}
    due = []
    for tenant_id in tenant_ids:
        state = states.get(tenant_id)
        if state is None:
            due.append(tenant_id)
            continue
        if state.run_started_at and state.run_started_at > now - LEASE:
            continue
        if state.waiting_until and state.waiting_until > now:
            continue
        if state.queued_at and state.queued_at > now - requeue_after:
            continue
        if state.pending or not state.last_run_at or state.last_run_at <= now - interval:
            due.append(tenant_id)
    for tenant_id in due:
        ZoomReconcileState.objects.update_or_create(tenant_id=tenant_id,
                                                    defaults={"queued_at": now})
        transaction.on_commit(lambda t=tenant_id: reconcile_queue(tenant_id=t), robust=True)
    return len(due)


def reconcile_tenant_attempt(*, tenant_id: int) -> dict:
    """The per-tenant task's one call: the scheduled window plus whatever is pending."""
    from tenants.models import Tenant

    tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
    if tenant is None:
        return {"status": "skipped"}
    connected = ZoomConnection.objects.filter(tenant=tenant,
                                              state=ConnectionState.CONNECTED).exists()
    if not connected:
        return {"status": "skipped"}
    try:
        summary = reconcile_run(tenant=tenant, days=reconcile_days(), origin="hourly")
    except ReconcileBusyError:
        return {"status": "busy"}
    return {"status": "done" if summary["complete"] else summary["stopped"] or "stopped",
            **{k: summary[k] for k in ("listed", "missing", "queued", "skipped")}}
