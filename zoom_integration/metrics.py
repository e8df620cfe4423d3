"""Dashboard metrics after every meeting and webinar: record, schedule, fetch, store, classify.

Owns `meeting_ended_record` (called by webhook processing for meeting.ended / webinar.ended),
`dashboard_metrics_fetch` (details, every join session, every QoS page → tables, sessions grouped
into people (`people.py`) and each person classified over all their sessions, in one
transaction that replaces any earlier fetch), `metrics_fetch_attempt` (the metrics task's one
call: status, retry and park decisions), `metrics_parked_resume` (beat: re-queues fetches
parked on Zoom's daily limit), and recovery: `metrics_fetch_again` (staff's "Fetch quality data
again") and `metrics_failed_requeue` (failed fetches, once the tenant is authorized again).
Errors are stored as sentences for staff (`messages.staff_message`). Zoom's Dashboard API and
its rate limits: https://developers.zoom.us/docs/api/rest/rate-limits/; classification:
`quality.py`.

Writes per QoS page are one `qos_store.qos_samples_write` (a COPY of one compact row per
participant-minute), so a 1,000-person hour is about 100 writes, not 60,000; summaries are
kept as running min/sum/max.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from observability import hooks as observe

from .backoff import backoff_seconds
from .budget import meeting_page_calls
from .capabilities import scope_missing_record
from .client import ZoomClient
from .exceptions import (
    ReauthorizationRequiredError,
    RetryLater,
    ZoomAPIError,
    ZoomAuthError,
    ZoomDashboardUnavailableError,
    ZoomNotFoundError,
    ZoomRateLimitedError,
    ZoomScopeMissingError,
    ZoomTransientError,
)
from .fairness import LOWEST_PRIORITY, fair_sharing, tenant_fetch_priority
from .fields import aware_datetime, int_or_zero, jsonable, text
from .messages import staff_message
from .models import (
    ZoomConnection,
    ZoomMeeting,
    ZoomMeetingPerson,
    ZoomParticipant,
    ZoomUser,
)
from .models.metrics import FetchStatus, MeetingKind
from .people import WAITING_ROOM, PersonGroup, people_group
from .qos_store import qos_samples_delete, qos_samples_write
from .quality import (
    DEFAULT_THRESHOLDS,
    QualityThresholds,
    SummaryAccumulator,
    meeting_classify,
    participant_classify,
    sample_parse,
)
from .queueing import metrics_fetch_enqueue
from .ratelimit import HEAVY, Booking, api_usage_flush_quietly

logger = logging.getLogger(__name__)

Progress = Callable[[int, int | None], None]

# Zoom needs "a minute or two" after the end before the dashboard has data; retry 3001/404
# with backoff for up to an hour.
NOT_READY_MAX_SECONDS = 3600
NOT_READY_MAX_ATTEMPTS = 12
TRANSIENT_MAX_ATTEMPTS = 8
# Rows per INSERT/UPDATE of participants and people: a 1,000-row UPDATE ... CASE statement
# costs several MiB to build; a few smaller ones keep a worker's memory flat in the meeting's size.
WRITE_BATCH = 200


def _delay_setting() -> int:
    return int(getattr(settings, "ZOOM_METRICS_FETCH_DELAY_SECONDS", 120))


def _thresholds() -> QualityThresholds:
    overrides = getattr(settings, "ZOOM_QUALITY_THRESHOLDS", None) or {}
    return QualityThresholds(**overrides) if overrides else DEFAULT_THRESHOLDS


def metrics_fetch_schedule(meeting: ZoomMeeting, *, countdown: float | None = None) -> None:
    """Queues the fetch once the current transaction commits (tasks take ids only)."""
    delay = _delay_setting() if countdown is None else countdown
    # Behind the fetches of tenants with fewer waiting (fair sharing between tenants).
    metrics_fetch_enqueue(meeting_id=meeting.pk, countdown=delay,
                          priority=tenant_fetch_priority(tenant_id=meeting.tenant_id))


# -- meeting.ended / webinar.ended ---------------------------------------------------------------

def meeting_ended_record(*, tenant, kind: str, payload: dict) -> ZoomMeeting | None:
    """Records one ended instance and schedules its fetch.

    Keyed by its `uuid`: each start of a meeting is a new instance.

    `payload` is the event's `payload` (with `object`); the whole event body is accepted too.
    Practice webinar sessions are skipped (None). A repeat of the same instance returns the
    existing row without scheduling again, unless its last fetch failed.
    """
    if kind not in MeetingKind.values:
        raise ValueError(f"unknown meeting kind {kind!r}")
    payload = payload or {}
    obj = payload.get("object")
    if obj is None and isinstance(payload.get("payload"), dict):
        obj = payload["payload"].get("object")
    if not isinstance(obj, dict) or not obj.get("uuid"):
        raise ValueError(f"{kind}.ended: payload.object.uuid is missing")
    if obj.get("practice_session") is True or str(obj.get("practice_session")).lower() == "true":
        return None  # webinar.ended: practice sessions carry no audience data
    start, end = aware_datetime(obj.get("start_time")), aware_datetime(obj.get("end_time"))
    defaults = {
        "kind": kind,
        "zoom_meeting_id": text(obj.get("id"), 32),
        "topic": text(obj.get("topic"), 512),
        "host_zoom_id": text(obj.get("host_id"), 64),
        "start_time": start,
        "end_time": end,
        "duration_minutes": _minutes(start, end),
        "ended_event_at": timezone.now(),
        "fetch_status": FetchStatus.SCHEDULED,
    }
    with transaction.atomic():
        meeting, created = ZoomMeeting.objects.get_or_create(
            tenant=tenant, uuid=text(obj["uuid"], 128), defaults=defaults)
        if not created and meeting.fetch_status not in (FetchStatus.FAILED,):
            return meeting
        if not created:
            meeting.fetch_status = FetchStatus.SCHEDULED
            meeting.fetch_attempts = 0
            meeting.ended_event_at = timezone.now()
            meeting.save(update_fields=["fetch_status", "fetch_attempts", "ended_event_at"])
        if tenant.is_active:
            metrics_fetch_schedule(meeting)
        else:
            ZoomMeeting.objects.filter(pk=meeting.pk).update(fetch_status=FetchStatus.SKIPPED,
                                                             last_error="tenant inactive")
    return meeting


def _minutes(start, end) -> int | None:
    if start and end and end >= start:
        return int((end - start).total_seconds() // 60)
    return None


# -- the fetch -----------------------------------------------------------------------------------

def _participant_key(data: dict) -> tuple:
    """Joins QoS entries to participant rows: Zoom's per-meeting `user_id`, else id or name with
    join time (guests have no `id`)."""
    if data.get("user_id"):
        return ("uid", str(data["user_id"]))
    return ("idj", str(data.get("id") or ""), str(data.get("user_name") or ""),
            str(data.get("join_time") or ""))


def _participant_row(meeting: ZoomMeeting, data: dict, position: int) -> ZoomParticipant:
    status = text(data.get("status"), 32)
    return ZoomParticipant(
        meeting=meeting, position=position,
        zoom_participant_id=text(data.get("id"), 64),
        zoom_user_id=text(data.get("user_id"), 64),
        participant_user_id=text(data.get("participant_user_id"), 64),
        participant_uuid=text(data.get("participant_uuid"), 128),
        registrant_id=text(data.get("registrant_id"), 128),
        customer_key=text(data.get("customer_key"), 128),
        status=status,
        in_waiting_room=status == WAITING_ROOM,
        user_name=text(data.get("user_name"), 256),
        email=text(data.get("email"), 254),
        device=text(data.get("device"), 128),
        os=text(" ".join(str(p) for p in (data.get("os"), data.get("os_version")) if p), 128),
        client_version=text(data.get("version"), 64),
        network_type=text(data.get("network_type"), 64),
        connection_type=text(data.get("connection_type"), 64),
        location=text(data.get("location"), 256),
        data_center=text(data.get("data_center"), 256),
        ip_address=text(data.get("ip_address"), 64),
        join_time=aware_datetime(data.get("join_time")),
        leave_time=aware_datetime(data.get("leave_time")),
        leave_reason=text(data.get("leave_reason"), 2000),
    )


def _directory_id(row: ZoomParticipant) -> str:
    # QoS entries have no participant_user_id; their `id` is the same Users API id.
    return row.participant_user_id or row.zoom_participant_id


def _link_users(tenant, rows: list[ZoomParticipant]) -> None:
    """Joins sessions to directory users: by Zoom user id (`participant_user_id`, else `id`),
    else email (two queries)."""
    ids = {_directory_id(r) for r in rows if _directory_id(r)}
    emails = {r.email.lower() for r in rows if r.email and not _directory_id(r)}
    by_id: dict[str, int] = {}
    by_email: dict[str, int] = {}
    if ids:
        by_id = dict(ZoomUser.objects.filter(tenant=tenant, zoom_id__in=ids)
                     .values_list("zoom_id", "pk"))
    if emails:
        for email, pk in ZoomUser.objects.filter(tenant=tenant, email__in=emails,
                                                 deleted_at__isnull=True
                                                 ).values_list("email", "pk"):
            by_email[email.lower()] = pk
    for row in rows:
        row.user_id = by_id.get(_directory_id(row)) or by_email.get(row.email.lower())


_DETAIL_FIELDS = {"uuid", "id", "topic", "host", "email", "start_time", "end_time", "duration",
                  "participants"}


def dashboard_metrics_fetch(*, tenant, meeting: ZoomMeeting, progress: Progress | None = None,
                            client: ZoomClient | None = None) -> dict:
    """Fetches and stores one instance's dashboard data; replaces any earlier fetch atomically.

    Returns {"participants" (people), "sessions", "waiting_room_sessions", "qos_samples",
    "qos_warnings" (QoS blocks skipped as unreadable), "unknown_qos_fields" (kept raw),
    "poor_participants", "good_participants", "unclassified_participants" (people), "quality",
    "worst_reason", "api_calls", "uuid", "kind"}.
    Raises the client's typed errors; a plan without Dashboard marks the connection.
    """
    own_client = client is None
    client = client or ZoomClient(tenant)
    thresholds = _thresholds()
    try:
        try:
            detail = _detail_get(client, meeting)
            booking = _pages_book(client, meeting, detail)
            with client.drawing_on(booking):
                listed: list[dict] = []
                for page in client.dashboard_participants_pages(meeting.kind, meeting.uuid):
                    listed.extend(p for p in page.get("participants") or []
                                  if isinstance(p, dict))
                summary = _store(tenant=tenant, meeting=meeting, client=client, detail=detail,
                                 listed=listed, thresholds=thresholds, progress=progress)
            cache.delete(_detail_key(meeting, client))
        except ZoomDashboardUnavailableError as exc:
            dashboard_unavailable_mark(tenant=tenant, error=str(exc))
            raise
        summary["api_calls"] = client.calls
        return summary
    finally:
        if own_client:
            client.close()
            api_usage_flush_quietly(tenant=tenant)


# A detail fetched by an attempt whose pages did not fit in the day's budget is kept for the
# attempt after the reset, so the wait costs no call twice. An ended meeting's detail does not
# change; it is dropped once the meeting is stored.
DETAIL_KEEP_SECONDS = 2 * 86400


def _detail_key(meeting: ZoomMeeting, client: ZoomClient) -> str:
    return f"zoom:metrics:detail:{meeting.pk}:{meeting.uuid}:{client.dashboard_type}"


def _detail_get(client: ZoomClient, meeting: ZoomMeeting) -> dict:
    """The instance's Dashboard detail: kept from a parked attempt, else one Heavy call."""
    kept = cache.get(_detail_key(meeting, client))
    if isinstance(kept, dict):
        return kept
    return client.dashboard_detail(meeting.kind, meeting.uuid)


def _pages_book(client: ZoomClient, meeting: ZoomMeeting, detail: dict) -> Booking:
    """Books the participant and QoS pages the detail's participant count calls for, all or
    nothing: when today's budget cannot cover them the fetch is parked before its first page
    (the daily `ZoomRateLimitedError`), with the detail kept, rather than cut half-way and
    fetched whole again the next day. Join sessions beyond the count draw on the day as usual.
    """
    expected = max(0, int_or_zero(detail.get("participants")))
    try:
        return client.calls_book(HEAVY, meeting_page_calls(expected))
    except ZoomRateLimitedError:
        cache.set(_detail_key(meeting, client), detail, DETAIL_KEEP_SECONDS)
        raise


def _store(*, tenant, meeting, client, detail, listed, thresholds, progress) -> dict:
    with transaction.atomic():
        # Serialises concurrent fetches of one instance: the second replaces the first's rows.
        ZoomMeeting.objects.select_for_update().filter(pk=meeting.pk).first()
        qos_samples_delete(meeting_id=meeting.pk)
        ZoomParticipant.objects.filter(meeting=meeting).delete()
        ZoomMeetingPerson.objects.filter(meeting=meeting).delete()

        rows: list[ZoomParticipant] = []
        by_key: dict[tuple, ZoomParticipant] = {}
        for data in listed:
            row = _participant_row(meeting, data, len(rows))
            rows.append(row)
            by_key.setdefault(_participant_key(data), row)
        _link_users(tenant, rows)
        ZoomParticipant.objects.bulk_create(rows, batch_size=WRITE_BATCH)

        accumulators: dict[int, SummaryAccumulator] = {}
        total_samples = warnings = unknown = 0
        done = 0
        expected = int(detail.get("participants") or 0) or len(rows) or None
        fallback_time = meeting.end_time or aware_datetime(detail.get("end_time")) or timezone.now()
        # The partition key of every sample: the end this fetch stores on the meeting.
        ended_at = aware_datetime(detail.get("end_time")) or fallback_time
        for page in client.prefetch(client.dashboard_qos_pages(meeting.kind, meeting.uuid)):
            entries = [e for e in page.get("participants") or [] if isinstance(e, dict)]
            # QoS entries the participant list did not have: one INSERT for the page.
            extra = []
            for entry in entries:
                key = _participant_key(entry)
                if key not in by_key:
                    row = _participant_row(meeting, entry, len(rows))
                    rows.append(row)
                    extra.append(row)
                    by_key[key] = row
            if extra:
                _link_users(tenant, extra)
                ZoomParticipant.objects.bulk_create(extra)
            batch: list[tuple] = []
            for entry in entries:
                row = by_key[_participant_key(entry)]
                acc = accumulators.get(row.pk)
                if acc is None:
                    acc = accumulators[row.pk] = SummaryAccumulator()
                samples = entry.get("user_qos")
                last_time = row.join_time or fallback_time
                for item in samples if isinstance(samples, list) else ():
                    parsed = sample_parse(item)
                    sampled_at = aware_datetime(parsed.sampled_at) or last_time
                    last_time = sampled_at
                    acc.add(parsed.metrics)
                    warnings += parsed.warnings
                    unknown += parsed.unknown
                    batch.append((row.pk, meeting.pk, sampled_at, parsed.metrics, parsed.cpu,
                                  parsed.wifi, parsed.unparsed))
            if batch:
                qos_samples_write(ended_at=ended_at, rows=batch)
                total_samples += len(batch)
            done += len(entries)
            if progress is not None:
                progress(done, expected)

        people, classifications = _people_store(meeting, rows, accumulators, thresholds)
        if warnings:
            logger.warning("meeting %s: %d QoS blocks skipped as unreadable (raw text kept)",
                           meeting.pk, warnings)
        quality, worst = meeting_classify(classifications)
        poor = sum(1 for c in classifications if c.quality == "poor")
        good = sum(1 for c in classifications if c.quality == "good")
        start = aware_datetime(detail.get("start_time"))
        end = aware_datetime(detail.get("end_time"))
        meeting.topic = text(detail.get("topic"), 512) or meeting.topic
        meeting.host_email = text(detail.get("email"), 254) or meeting.host_email
        meeting.start_time = start or meeting.start_time
        meeting.end_time = end or meeting.end_time
        meeting.duration_minutes = _minutes(meeting.start_time, meeting.end_time) \
            or meeting.duration_minutes
        if detail.get("id") and not meeting.zoom_meeting_id:
            meeting.zoom_meeting_id = text(detail.get("id"), 32)
        meeting.details = jsonable({k: v for k, v in detail.items()
                                     if k not in _DETAIL_FIELDS})
        sessions = sum(1 for r in rows if not r.in_waiting_room)
        meeting.participants_count = len(people)
        meeting.sessions_count = sessions
        meeting.poor_participants = poor
        meeting.classified_participants = poor + good
        meeting.worst_metric = worst
        meeting.quality = quality
        meeting.qos_samples = total_samples
        meeting.qos_expired_at = None  # a refetch brings minute-by-minute data back
        meeting.fetched_at = timezone.now()
        meeting.fetch_status = FetchStatus.DONE
        meeting.last_error = ""
        meeting.next_attempt_at = None
        meeting.save()
    return {
        "uuid": meeting.uuid, "kind": meeting.kind, "participants": len(people),
        "sessions": sessions, "waiting_room_sessions": len(rows) - sessions,
        "qos_samples": total_samples, "qos_warnings": warnings, "unknown_qos_fields": unknown,
        "poor_participants": poor, "good_participants": good,
        "unclassified_participants": len(people) - poor - good, "quality": quality,
        "worst_reason": worst,
    }


def _people_store(meeting, rows, accumulators, thresholds):
    """Groups the saved sessions into people, classifies each person over the samples of all
    their in-meeting sessions (waiting-room stints left out), stores both; returns (people,
    classifications)."""
    groups, _orphans = people_group(rows)
    people: list[ZoomMeetingPerson] = []
    classifications = []
    for position, group in enumerate(groups):
        acc = SummaryAccumulator()
        for session in group.sessions:
            if session.pk in accumulators:
                acc.merge(accumulators[session.pk])
        summaries = acc.summaries()
        result = participant_classify(summaries, thresholds)
        classifications.append(result)
        people.append(ZoomMeetingPerson(
            meeting=meeting, position=position, identity_kind=group.kind,
            identity_key=text(group.key, 300), user_id=_first(group, "user_id"),
            display_name=_first(group, "user_name") or "", email=_first(group, "email") or "",
            sessions_count=len(group.sessions), quality=result.quality,
            quality_reason=result.reason_text, mos=result.mos, stream_summaries=summaries))
    ZoomMeetingPerson.objects.bulk_create(people, batch_size=WRITE_BATCH)
    linked = []
    for group, person in zip(groups, people, strict=True):
        for session in (*group.sessions, *group.waiting):
            session.person = person
            linked.append(session)
    if linked:
        ZoomParticipant.objects.bulk_update(linked, ["person"], batch_size=WRITE_BATCH)
    return people, classifications


def _first(group: PersonGroup, attribute: str):
    """The first non-empty value among a person's sessions (in-meeting ones first)."""
    for session in (*group.sessions, *group.waiting):
        value = getattr(session, attribute)
        if value:
            return value
    return None


def dashboard_unavailable_mark(*, tenant, error: str = "") -> None:
    """Zoom's code 200: the plan has no Dashboard; remember it rather than retrying."""
    now = timezone.now()
    updated = ZoomConnection.objects.filter(tenant=tenant).update(
        dashboard_available=False, dashboard_checked_at=now)
    if not updated:
        logger.warning("tenant %s: dashboard unavailable, and no connection row to mark",
                       tenant.pk)


# -- the task's one call -------------------------------------------------------------------------

# Waits between fetch attempts: not ready yet (Zoom needs a minute or two after the end), and
# transient errors (5xx, timeouts), each doubling from its base up to the cap.
NOT_READY_BACKOFF_BASE_SECONDS = 60.0
TRANSIENT_BACKOFF_BASE_SECONDS = 30.0
FETCH_BACKOFF_MAX_SECONDS = 600.0


@observe.metrics_fetch_observed
def metrics_fetch_attempt(*, meeting_id: int) -> dict:
    """One attempt for the metrics task: {"status": ..., ...}, or `RetryLater` to come back.

    - not ready (3001/404): retry with backoff until an hour after the meeting ended, then one
      try with `type=pastOne`, then "no data from Zoom" (NO_DATA, not failed);
    - a missing scope (4711): recorded on the connection, the fetch parked (NO_SCOPE) until the
      customer authorizes again;
    - transient or per-second 429: retry with backoff (bounded);
    - daily limit: park (status PARKED until the reset; beat's `metrics_parked_resume` re-queues);
    - no Dashboard on the plan: skipped, the connection marked.
    """
    meeting = ZoomMeeting.objects.select_related("tenant").filter(pk=meeting_id).first()
    if meeting is None:
        return {"status": "missing"}
    tenant = meeting.tenant
    if not tenant.is_active:
        _status(meeting, FetchStatus.SKIPPED, "tenant inactive")
        return {"status": "skipped"}
    if meeting.fetch_status in (FetchStatus.DONE, FetchStatus.SKIPPED):
        return {"status": meeting.fetch_status}  # a redelivered task
    meeting.fetch_attempts += 1
    _status(meeting, FetchStatus.FETCHING, meeting.last_error, attempts=True)
    try:
        try:
            summary = dashboard_metrics_fetch(tenant=tenant, meeting=meeting)
        except ZoomNotFoundError as exc:
            reference = meeting.ended_event_at or meeting.end_time or timezone.now()
            delay = backoff_seconds(meeting.fetch_attempts, base=NOT_READY_BACKOFF_BASE_SECONDS,
                                    cap=FETCH_BACKOFF_MAX_SECONDS)
            waited = (timezone.now() - reference).total_seconds()
            if waited + delay <= NOT_READY_MAX_SECONDS and \
                    meeting.fetch_attempts < NOT_READY_MAX_ATTEMPTS:
                _status(meeting, FetchStatus.WAITING, staff_message(exc), next_in=delay)
                raise RetryLater(delay, str(exc)) from exc
            # Still 3001 with type=past well after the data delay: maybe a meeting with one
            # participant, which Zoom lists under type=pastOne. One try, then "no data".
            try:
                summary = _past_one_fetch(tenant=tenant, meeting=meeting)
            except ZoomNotFoundError as again:
                logger.info("meeting %s: no dashboard data (type=past, then pastOne): %s",
                            meeting.pk, again)
                _status(meeting, FetchStatus.NO_DATA,
                        f"Zoom had no dashboard data {int(waited) // 60} minutes after the "
                        "meeting ended, even as a one-person meeting. Use \"Fetch quality "
                        "data again\" later; very short meetings may never have any.")
                return {"status": "no_data"}
    except ZoomScopeMissingError as exc:
        # Parked, not failed: resumed when the customer adds the scope and authorizes again.
        _status(meeting, FetchStatus.NO_SCOPE, scope_missing_record(tenant=tenant, error=exc))
        return {"status": "no_scope"}
    except ZoomRateLimitedError as exc:
        if exc.daily:
            _status(meeting, FetchStatus.PARKED, staff_message(exc),
                    next_in=exc.retry_after_seconds)
            return {"status": "parked"}
        delay = exc.retry_after_seconds + random.uniform(0, 2)
        _status(meeting, FetchStatus.WAITING, staff_message(exc), next_in=delay)
        raise RetryLater(delay, str(exc)) from exc
    except ZoomTransientError as exc:
        if meeting.fetch_attempts >= TRANSIENT_MAX_ATTEMPTS:
            _status(meeting, FetchStatus.FAILED, staff_message(exc))
            return {"status": "failed"}
        delay = backoff_seconds(meeting.fetch_attempts, base=TRANSIENT_BACKOFF_BASE_SECONDS,
                                cap=FETCH_BACKOFF_MAX_SECONDS)
        _status(meeting, FetchStatus.WAITING, staff_message(exc), next_in=delay)
        raise RetryLater(delay, str(exc)) from exc
    except ZoomDashboardUnavailableError as exc:
        _status(meeting, FetchStatus.SKIPPED, staff_message(exc))
        return {"status": "skipped"}
    except (ZoomAuthError, ReauthorizationRequiredError, ZoomAPIError) as exc:
        # Staff read this on the meeting page: a sentence, never the exception's class name;
        # the log keeps Zoom's own words for support.
        logger.warning("meeting %s of tenant %s: fetch failed: %s: %s", meeting.pk, tenant.pk,
                       type(exc).__name__, exc)
        _status(meeting, FetchStatus.FAILED, staff_message(exc))
        return {"status": "failed"}
    return {"status": "done", **summary}


def _past_one_fetch(*, tenant, meeting: ZoomMeeting) -> dict:
    """The fetch once more with the Dashboard's `type=pastOne`."""
    client = ZoomClient(tenant, dashboard_type="pastOne")
    try:
        return dashboard_metrics_fetch(tenant=tenant, meeting=meeting, client=client)
    finally:
        client.close()
        api_usage_flush_quietly(tenant=tenant)


def _status(meeting: ZoomMeeting, status: str, error: str = "", *, next_in: float | None = None,
            attempts: bool = False) -> None:
    meeting.fetch_status = status
    meeting.last_error = (error or "")[:2000]
    meeting.next_attempt_at = (timezone.now() + timedelta(seconds=next_in)
                               if next_in is not None else None)
    fields = ["fetch_status", "last_error", "next_attempt_at"]
    if attempts:
        fields.append("fetch_attempts")
    ZoomMeeting.objects.filter(pk=meeting.pk).update(**{f: getattr(meeting, f) for f in fields})


RESUME_SPREAD_SECONDS = 60.0


def metrics_parked_resume(*, now: datetime | None = None) -> int:
    """Re-queues fetches parked on the daily limit whose reset has passed; returns how many.

    Oldest meeting first (by when it ended, then by id), so what waited longest is fetched
    before it can age out of Zoom's dashboard retention; if the new day's budget runs out
    again, the younger ones are those parked once more.
    """
    now = now or datetime.now(UTC)
    ids = list(ZoomMeeting.objects.filter(
        fetch_status=FetchStatus.PARKED, next_attempt_at__lte=now, tenant__is_active=True
    ).order_by(F("end_time").asc(nulls_first=True), "pk").values_list("pk", flat=True)[:500])
    if not ids:
        return 0
    ZoomMeeting.objects.filter(pk__in=ids).update(fetch_status=FetchStatus.SCHEDULED,
                                                  fetch_attempts=0)
    step = RESUME_SPREAD_SECONDS / len(ids)
    for index, pk in enumerate(ids):
        # Spread over a minute (a whole fleet of parked fetches resumes at the same reset),
        # in order: each one's countdown is later than the older one's. Lowest priority: the
        # day's new meetings go first, and the backlog takes what capacity is left.
        metrics_fetch_enqueue(meeting_id=pk, countdown=index * step,
                              priority=LOWEST_PRIORITY if fair_sharing() else None)
    return len(ids)


# -- recovery: fetch again -----------------------------------------------------------------------

# After a new authorization, failed fetches of meetings that ended within this window are tried
# again (Zoom's Dashboard lists cover the last six months; older data is rarely there), at most
# this many at once, spread over a minute so a tenant's backlog does not arrive in one burst.
REQUEUE_WINDOW = timedelta(days=30)
REQUEUE_MAX = 500
REQUEUE_SPREAD_SECONDS = 60.0


def _fetch_reset_and_queue(ids: list[int], *, spread: float) -> None:
    """Resets each fetch to "scheduled" (attempts 0, error cleared) and queues it on commit."""
    ZoomMeeting.objects.filter(pk__in=ids).update(
        fetch_status=FetchStatus.SCHEDULED, fetch_attempts=0, last_error="",
        next_attempt_at=None)
    for pk in ids:
        metrics_fetch_enqueue(meeting_id=pk, countdown=random.uniform(0, spread) if spread else 0)


def metrics_fetch_again(*, meeting_ids: list[int]) -> dict[str, int]:
    """Staff's "Fetch quality data again": queues a fresh fetch of each meeting now.

    Any status may be fetched again (a done fetch is replaced atomically); meetings of inactive
    tenants are left alone. Returns {"queued": n, "inactive": n}. The caller checks who may.
    """
    rows = list(ZoomMeeting.objects.filter(pk__in=meeting_ids)
                .values_list("pk", "tenant__is_active"))
    active = [pk for pk, is_active in rows if is_active]
    with transaction.atomic():
        _fetch_reset_and_queue(active, spread=0)
    return {"queued": len(active), "inactive": len(rows) - len(active)}


def metrics_failed_requeue(*, tenant, now: datetime | None = None) -> int:
    """After the tenant authorized again: queues its failed fetches again; returns how many.

    Failed fetches of meetings that ended within REQUEUE_WINDOW, newest first, at most
    REQUEUE_MAX. Whatever made them fail (most often the missing authorization itself) gets one
    more chance; a fetch that fails again is marked failed again, with its reason.
    """
    if not tenant.is_active:
        return 0
    since = (now or timezone.now()) - REQUEUE_WINDOW
    ids = list(ZoomMeeting.objects.filter(tenant=tenant, fetch_status=FetchStatus.FAILED)
               .filter(Q(end_time__gte=since) | Q(end_time__isnull=True,
                                                  ended_event_at__gte=since))
               .order_by("-end_time", "-pk").values_list("pk", flat=True)[:REQUEUE_MAX])
    if ids:
        with transaction.atomic():
            _fetch_reset_and_queue(ids, spread=REQUEUE_SPREAD_SECONDS if len(ids) > 10 else 0)
        logger.info("tenant %s authorized again: %d failed fetch(es) queued again", tenant.pk,
                    len(ids))
    return len(ids)
