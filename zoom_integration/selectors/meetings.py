"""Meeting quality for staff: lists with quality annotations, filters, people with their join
sessions, QoS series per person and stream over time, the meeting-level summary across people
(median and worst each minute), and what the meeting page and a person's page show (charts
drawn by `charts.py`). Counts are of people (join sessions of one person grouped, waiting-room
stints left out), as stored by `metrics.py`.

The meeting page's cost does not grow with the meeting: one page of people, the summary
aggregated by PostgreSQL (`qos_store.qos_minute_spread`), and the samples of only the few
people it charts inline; everyone else's samples are read on their own page."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from statistics import median

from django.core.paginator import Page, Paginator
from django.db.models import (
    Case,
    Exists,
    F,
    FloatField,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce

from tenants.models import Tenant

from ..charts import ChartSeries, Threshold, line_chart_svg
from ..models import (
    ZoomGroupMembership,
    ZoomMeeting,
    ZoomMeetingPerson,
    ZoomParticipant,
    ZoomUser,
)
from ..models.metrics import Quality
from ..qos_store import qos_minute_spread, qos_samples_read
from ..zoom import STREAM_LABELS, STREAMS
from .subqueries import count_subquery

# Chart metric -> (label, unit, keys in a sample's metrics[stream], tried in order).
CHART_METRICS = {
    "latency": ("Latency (round trip)", "ms", ("latency_ms", "latency")),
    "jitter": ("Jitter", "ms", ("jitter_ms", "jitter")),
    "loss": ("Packet loss (average)", "%", ("avg_loss_pct", "avg_loss", "loss_pct")),
}



def meetings_with_quality(qs: QuerySet[ZoomMeeting] | None = None) -> QuerySet[ZoomMeeting]:
    """Meetings annotated from their people: counts, share of poor, worst metric.

    `q_participants` (people), `q_sessions` (join sessions, waiting room left out), `q_poor`,
    `q_classified` (people, ints), `q_poor_share` (0..1, None when no person was classified)
    and `q_worst` (the reason of the lowest-MOS poor person, else the meeting's own
    `worst_metric`).
    """
    qs = ZoomMeeting.objects.all() if qs is None else qs
    meeting = OuterRef("pk")
    parts = ZoomMeetingPerson.objects.filter(meeting=meeting)
    worst = (parts.filter(quality=Quality.POOR).exclude(quality_reason="")
             .order_by(F("mos").asc(nulls_last=True), "position").values("quality_reason")[:1])
    qs = qs.select_related("tenant").annotate(
        q_participants=count_subquery(parts),
        q_sessions=count_subquery(ZoomParticipant.objects.filter(meeting=meeting,
                                                                 in_waiting_room=False)),
        q_poor=count_subquery(parts.filter(quality=Quality.POOR)),
        q_classified=count_subquery(parts.exclude(quality=Quality.UNCLASSIFIED)),
        q_worst=Coalesce(Subquery(worst, output_field=TextField()), F("worst_metric"),
                         output_field=TextField()),
    )
    return qs.annotate(q_poor_share=Case(
        When(q_classified=0, then=Value(None)),
        default=Cast(F("q_poor"), FloatField()) / Cast(F("q_classified"), FloatField()),
        output_field=FloatField()))


def meetings_filter(qs: QuerySet[ZoomMeeting], *, tenant_id: int | None = None,
                    date_from: dt.date | None = None, date_to: dt.date | None = None,
                    user_id: int | None = None, group_id: int | None = None,
                    quality: str | None = None, kind: str | None = None
                    ) -> QuerySet[ZoomMeeting]:
    """Filters of the meeting list. A user matches as host or participant; a group through
    its members. Dates are inclusive days of the meeting's end (UTC)."""
    if tenant_id:
        qs = qs.filter(tenant_id=tenant_id)
    if date_from:
        qs = qs.filter(end_time__date__gte=date_from)
    if date_to:
        qs = qs.filter(end_time__date__lte=date_to)
    if quality:
        qs = qs.filter(quality=quality)
    if kind:
        qs = qs.filter(kind=kind)
    if user_id:
        user = ZoomUser.objects.filter(pk=user_id).values("tenant_id", "zoom_id")
        qs = qs.filter(
            Exists(ZoomParticipant.objects.filter(meeting=OuterRef("pk"), user_id=user_id))
            | Exists(user.filter(tenant_id=OuterRef("tenant_id"),
                                 zoom_id=OuterRef("host_zoom_id"))))
    if group_id:
        members = ZoomGroupMembership.objects.filter(group_id=group_id)
        qs = qs.filter(
            Exists(ZoomParticipant.objects.filter(
                meeting=OuterRef("pk"), user_id__in=members.values("user_id")))
            | Exists(members.filter(user__tenant_id=OuterRef("tenant_id"),
                                    user__zoom_id=OuterRef("host_zoom_id"))))
    return qs


def meeting_quality_list(*, tenant: Tenant | None = None, **filters) -> QuerySet[ZoomMeeting]:
    """Recent meetings and webinars first, with quality annotations, filtered."""
    qs = meetings_with_quality()
    return meetings_filter(qs, tenant_id=tenant.pk if tenant else None, **filters)


def meeting_people(*, meeting: ZoomMeeting) -> QuerySet[ZoomMeetingPerson]:
    """The meeting's people in order, each with `sessions` (join sessions and waiting-room
    stints, in Zoom's order) prefetched: two queries."""
    sessions = ZoomParticipant.objects.order_by("position")
    return (ZoomMeetingPerson.objects.filter(meeting=meeting).select_related("user")
            .prefetch_related(Prefetch("sessions", queryset=sessions)).order_by("position"))


def meeting_unmatched_waiting(*, meeting: ZoomMeeting) -> QuerySet[ZoomParticipant]:
    """Waiting-room stints of no one who then joined (stored, not counted)."""
    return ZoomParticipant.objects.filter(meeting=meeting, person__isnull=True,
                                          in_waiting_room=True).order_by("position")


def _number(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):  # tolerate a raw "41 ms" or "0.3%" left unparsed
        text = value.strip().split(" ")[0].rstrip("%")
        try:
            return float(text)
        except ValueError:
            return None
    return None


def _metric_value(block: dict, keys: tuple[str, ...]) -> float | None:
    for key in keys:
        if key in block:
            return _number(block[key])
    return None


# {metric: {stream: [(time, value or None), ...]}}, only streams with at least one number.
Series = dict[str, dict[str, list[tuple[dt.datetime, float | None]]]]


@dataclass
class PersonSeries:
    person_id: int
    series: Series = field(default_factory=dict)
    samples: int = 0


def meeting_qos_series(*, meeting: ZoomMeeting, person_ids: list[int] | None = None,
                       person_of: dict[int, int] | None = None) -> dict[int, PersonSeries]:
    """Per person (all their join sessions), latency/jitter/loss over time per stream, from
    the stored samples.

    Two queries for the whole meeting, or for the people of `person_ids`; one when the caller
    already holds their sessions (`person_of`: session id -> person id). Streams without a
    single number are dropped, so charts show only what Zoom measured; a missing value inside
    a series stays None (a gap). Samples of a session that belongs to no person (a
    waiting-room stint) are left out.
    """
    if person_of is None:
        sessions = ZoomParticipant.objects.filter(meeting=meeting, person__isnull=False)
        if person_ids is not None:
            sessions = sessions.filter(person_id__in=person_ids)
        person_of = dict(sessions.values_list("pk", "person_id"))
    if not person_of:
        return {}
    wanted = {key for _label, _unit, keys in CHART_METRICS.values() for key in keys}
    raw: dict[int, list[tuple[dt.datetime, dict]]] = defaultdict(list)
    for row in qos_samples_read(meeting_id=meeting.pk, participant_ids=list(person_of),
                                metric_keys=wanted):
        raw[person_of[row.participant_id]].append(
            (row.sampled_at, row.metrics if isinstance(row.metrics, dict) else {}))
    for rows in raw.values():
        rows.sort(key=lambda sample: sample[0])  # a rejoiner's sessions, in time order
    result: dict[int, PersonSeries] = {}
    for pid, rows in raw.items():
        series: Series = {}
        for metric, (_label, _unit, keys) in CHART_METRICS.items():
            per_stream = {}
            for stream in STREAMS:
                points = [(t, _metric_value(m.get(stream) or {}, keys)
                           if isinstance(m.get(stream), dict) else None) for t, m in rows]
                if any(v is not None for _, v in points):
                    per_stream[stream] = points
            if per_stream:
                series[metric] = per_stream
        result[pid] = PersonSeries(person_id=pid, series=series, samples=len(rows))
    return result


# {metric: {"median": [(minute, value), ...], "worst": [...]}}, only metrics with a number.
Summary = dict[str, dict[str, list[tuple[dt.datetime, float]]]]


def meeting_summary_series(per_person: dict[int, PersonSeries]) -> Summary:
    """Meeting-level view across people: per metric and minute, the median and the worst
    (highest) value of the people with a number that minute.

    Each person counts once a minute, with their worst stream for that metric (and their worst
    sample, should a rejoiner have two in one minute), so a meeting of many people reads as two
    lines instead of one per stream, and one person with video does not outweigh the others.
    """
    # metric -> minute -> person -> that person's worst value in that minute
    buckets: dict[str, dict[dt.datetime, dict[int, float]]] = defaultdict(
        lambda: defaultdict(dict))
    for pid, ps in per_person.items():
        for metric, streams in ps.series.items():
            for points in streams.values():
                for t, v in points:
                    if v is None:
                        continue
                    minute = buckets[metric][t.replace(second=0, microsecond=0)]
                    minute[pid] = v if pid not in minute else max(minute[pid], v)
    summary: Summary = {}
    for metric, minutes in buckets.items():
        ordered = sorted(minutes.items())
        summary[metric] = {
            "median": [(t, float(median(people.values()))) for t, people in ordered],
            "worst": [(t, max(people.values())) for t, people in ordered],
        }
    return summary


# --- The meeting page's charts ---------------------------------------------------------------

# Reference lines on the charts: the default "poor" limits of the quality rules (Microsoft CQD
# audio: round trip > 500 ms, jitter > 30 ms, packet loss > 10 %).
CHART_THRESHOLDS = {
    "latency": Threshold(500, "poor above 500 ms"),
    "jitter": Threshold(30, "poor above 30 ms"),
    "loss": Threshold(10, "poor above 10 %"),
}
# Legend names of the meeting-level summary lines.
SUMMARY_LABELS = {"median": "median across people", "worst": "worst person"}
# People listed on one page of the meeting page, poor ones first. A page's work (rows, sessions,
# the charts drawn inline) is bounded by this, not by the meeting's size.
PEOPLE_PER_PAGE = 50
# Poor people of the shown page whose charts are drawn inline; everyone's charts are on their
# own page (`meeting_person_page`), linked from their row. The meeting-level charts always
# cover everyone.
MAX_PARTICIPANT_CHARTS = 10


def meeting_summary(*, meeting: ZoomMeeting) -> Summary:
    """The meeting-level series (median and worst person per minute and metric).

    Computed by PostgreSQL from the compact columns when they hold every number
    (`qos_store.qos_minute_spread`, one query whatever the meeting's size); otherwise (rows
    still in the former table, or a number kept in `extra`) from the decoded samples, which
    gives the same result at the cost of reading every row.
    """
    spread = qos_minute_spread(meeting_id=meeting.pk, metrics={
        metric: keys for metric, (_label, _unit, keys) in CHART_METRICS.items()})
    if spread is None:
        return meeting_summary_series(meeting_qos_series(meeting=meeting))
    summary: Summary = {}
    for metric in CHART_METRICS:
        minutes = [(m.minute, m.values[metric]) for m in spread if metric in m.values]
        if minutes:
            summary[metric] = {"median": [(t, median_) for t, (median_, _w) in minutes],
                               "worst": [(t, worst) for t, (_m, worst) in minutes]}
    return summary


def _meeting_charts(meeting: ZoomMeeting, summary: Summary) -> list:
    return [
        line_chart_svg(
            chart_id=f"meeting-{meeting.pk}-{metric}",
            title=f"{label}: across people, per minute",
            series=[ChartSeries(SUMMARY_LABELS[key], pts)
                    for key, pts in summary[metric].items()],
            y_label=label.split(" (")[0], unit=unit,
            thresholds=[CHART_THRESHOLDS[metric]],
            description=f"{label} of this meeting each minute: the median across people and "
                        "the worst person, each person taken at their worst stream.")
        for metric, (label, unit, _keys) in CHART_METRICS.items() if metric in summary]


def person_charts(person: ZoomMeetingPerson, ps: PersonSeries | None, *,
                  height: int = 220) -> list:
    """One chart per metric Zoom measured for this person, a line per stream."""
    if ps is None:
        return []
    name = person.display_name or f"participant {person.position + 1}"
    charts = []
    for metric, (label, unit, _keys) in CHART_METRICS.items():
        if metric not in ps.series:
            continue
        charts.append(line_chart_svg(
            chart_id=f"participant-{person.pk}-{metric}",
            title=f"{label}: {name}",
            series=[ChartSeries(STREAM_LABELS[s], pts) for s, pts in ps.series[metric].items()],
            y_label=label.split(" (")[0], unit=unit,
            thresholds=[CHART_THRESHOLDS[metric]], height=height))
    return charts


def meeting_people_ranked(*, meeting: ZoomMeeting) -> QuerySet[ZoomMeetingPerson]:
    """The meeting's people for the meeting page: poor ones first, lowest MOS first (so the
    worst calls are on the first page), then everyone else in join order; each with their
    `sessions` prefetched."""
    poor_mos = Case(When(quality=Quality.POOR, then=F("mos")), default=Value(None),
                    output_field=FloatField())
    poor_first = Case(When(quality=Quality.POOR, then=Value(0)), default=Value(1))
    return meeting_people(meeting=meeting).order_by(
        poor_first, poor_mos.asc(nulls_last=True), "position")


class _Paginator(Paginator):
    """A paginator told its count when the caller has it already (the meeting's annotated
    number of people), saving the COUNT query."""

    def __init__(self, object_list, per_page, *, count: int | None = None):
        super().__init__(object_list, per_page)
        if count is not None:
            self.__dict__["count"] = count  # `count` is a cached_property


@dataclass
class MeetingPage:
    """What the meeting page shows: meeting-level charts (everyone); one page of people, each
    a row with their sessions, and charts for the first poor ones of the page (`charted`);
    waiting-room stints of no one who joined."""

    meeting_charts: list
    rows: list[dict]
    unmatched_waiting: list
    page: Page
    charted: int = 0


def meeting_page(*, meeting: ZoomMeeting, page_number=1) -> MeetingPage:
    """One page of a meeting's people with their sessions, and the SVG charts.

    A bounded number of queries whatever the meeting's size: the people of the page and their
    sessions, the count, the waiting-room stints, the meeting-level series (aggregated by
    PostgreSQL), and the samples of the few people charted inline.
    """
    paginator = _Paginator(meeting_people_ranked(meeting=meeting), PEOPLE_PER_PAGE,
                           count=getattr(meeting, "q_participants", None))
    page = paginator.get_page(page_number)
    people = list(page.object_list)
    # Past the retention only the per-person results are left: nothing to chart.
    expired = bool(meeting.qos_expired_at)
    summary = {} if expired else meeting_summary(meeting=meeting)
    charted = [p for p in people if p.quality == Quality.POOR][:MAX_PARTICIPANT_CHARTS]
    series = {} if expired else meeting_qos_series(meeting=meeting, person_of={
        s.pk: p.pk for p in charted for s in p.sessions.all()})
    rows = []
    for person in people:
        ps = series.get(person.pk)
        rows.append({"person": person, "sessions": list(person.sessions.all()),
                     "charts": person_charts(person, ps), "samples": ps.samples if ps else 0})
    return MeetingPage(meeting_charts=_meeting_charts(meeting, summary), rows=rows,
                       unmatched_waiting=list(meeting_unmatched_waiting(meeting=meeting)),
                       page=page, charted=len(series))


@dataclass
class PersonPage:
    """One person of a meeting: their sessions, per-stream summaries and per-minute charts."""

    person: ZoomMeetingPerson
    sessions: list
    charts: list
    samples: int
    summaries: list[dict]


# Columns of the per-stream summary table: (metric key in the stored summaries, heading).
SUMMARY_COLUMNS = (("latency_ms", "Latency (ms)"), ("jitter_ms", "Jitter (ms)"),
                   ("avg_loss_pct", "Loss avg (%)"), ("max_loss_pct", "Loss max (%)"),
                   ("bitrate_kbps", "Bitrate (kbps)"), ("frame_rate_fps", "Frame rate (fps)"))


def _summary_rows(stored) -> list[dict]:
    """The person's stored per-stream min/avg/max (kept past the samples' retention), each
    cell as text "min / avg / max" or None."""
    if not isinstance(stored, dict):
        return []
    rows = []
    for stream in STREAMS:
        block = stored.get(stream)
        if not isinstance(block, dict):
            continue
        cells = []
        for key, _heading in SUMMARY_COLUMNS:
            value = block.get(key)
            numbers = [_number(value.get(k)) for k in ("min", "avg", "max")] if isinstance(
                value, dict) else []
            cells.append(" / ".join("—" if n is None else f"{round(n, 2):g}" for n in numbers)
                         if any(n is not None for n in numbers) else None)
        rows.append({"stream": STREAM_LABELS[stream], "samples": block.get("samples"),
                     "cells": cells})
    return rows


def meeting_person_page(*, meeting: ZoomMeeting, person_id: int) -> PersonPage | None:
    """One person of `meeting` (None when the id is not one of its people), with the charts of
    every metric and stream Zoom measured for them (their samples only)."""
    person = meeting_people(meeting=meeting).filter(pk=person_id).first()
    if person is None:
        return None
    sessions = list(person.sessions.all())
    ps = (None if meeting.qos_expired_at else meeting_qos_series(
        meeting=meeting, person_of={s.pk: person.pk for s in sessions}).get(person.pk))
    return PersonPage(person=person, sessions=sessions,
                      charts=person_charts(person, ps, height=260),
                      samples=ps.samples if ps else 0,
                      summaries=_summary_rows(person.stream_summaries))
