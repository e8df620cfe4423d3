"""Meeting quality for staff: lists with quality annotations, filters, people with their join
sessions, QoS series per person and stream over time, the meeting-level summary across people
(median and worst each minute), and the meeting page's charts (drawn by `charts.py`). Counts
are of people (join sessions of one person grouped, waiting-room stints left out), as stored
by `metrics.py`."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from statistics import median

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
from ..qos_store import qos_samples_read
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


def meeting_qos_series(*, meeting: ZoomMeeting,
                       person_ids: list[int] | None = None) -> dict[int, PersonSeries]:
    """Per person (all their join sessions), latency/jitter/loss over time per stream, from
    the stored samples.

    Two queries for the whole meeting. Streams without a single number are dropped, so charts
    show only what Zoom measured; a missing value inside a series stays None (a gap). Samples
    of a session that belongs to no person (a waiting-room stint) are left out.
    """
    sessions = ZoomParticipant.objects.filter(meeting=meeting, person__isnull=False)
    if person_ids is not None:
        sessions = sessions.filter(person_id__in=person_ids)
    person_of = dict(sessions.values_list("pk", "person_id"))
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
# Charts drawn per person on one page; the meeting-level charts always cover everyone.
MAX_PARTICIPANT_CHARTS = 60


@dataclass
class MeetingPage:
    """What the meeting page shows: meeting-level charts; per person a row with their sessions
    and charts (`charts_skipped` past MAX_PARTICIPANT_CHARTS); waiting-room stints of no one
    who joined."""

    meeting_charts: list
    rows: list[dict]
    unmatched_waiting: list


def meeting_page(*, meeting: ZoomMeeting) -> MeetingPage:
    """People with their sessions, QoS series and SVG charts of one meeting (four queries)."""
    people = list(meeting_people(meeting=meeting))
    # Past the retention only the per-person results are left: nothing to chart.
    series = {} if meeting.qos_expired_at else meeting_qos_series(meeting=meeting)
    summary = meeting_summary_series(series)
    meeting_charts = [
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
    # Poor people first, so their charts are inside the drawn set.
    charted = sorted(people, key=lambda p: (p.quality != Quality.POOR, p.position))
    charted_ids = {p.pk for p in charted[:MAX_PARTICIPANT_CHARTS]}
    rows = []
    for person in people:
        ps = series.get(person.pk)
        name = person.display_name or f"participant {person.position + 1}"
        charts = []
        if ps and person.pk in charted_ids:
            for metric, (label, unit, _keys) in CHART_METRICS.items():
                if metric not in ps.series:
                    continue
                charts.append(line_chart_svg(
                    chart_id=f"participant-{person.pk}-{metric}",
                    title=f"{label}: {name}",
                    series=[ChartSeries(STREAM_LABELS[s], pts)
                            for s, pts in ps.series[metric].items()],
                    y_label=label.split(" (")[0], unit=unit,
                    thresholds=[CHART_THRESHOLDS[metric]], height=220))
        rows.append({"person": person, "sessions": list(person.sessions.all()),
                     "charts": charts, "samples": ps.samples if ps else 0,
                     "charts_skipped": bool(ps) and person.pk not in charted_ids})
    return MeetingPage(meeting_charts=meeting_charts, rows=rows,
                       unmatched_waiting=list(meeting_unmatched_waiting(meeting=meeting)))
