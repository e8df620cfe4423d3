"""Meeting quality for staff: lists with quality annotations, filters, participants, QoS series
per stream over time, and the meeting page's charts (drawn by `charts.py`)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import (
    Case,
    Exists,
    F,
    FloatField,
    OuterRef,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce

from tenants.models import Tenant

from ..charts import ChartSeries, Threshold, line_chart_svg
from ..models import ZoomGroupMembership, ZoomMeeting, ZoomParticipant, ZoomUser
from ..models.metrics import Quality
from ..qos_store import qos_sample_count_subquery, qos_samples_read
from ..zoom import STREAM_LABELS, STREAMS
from .subqueries import count_subquery

# Chart metric -> (label, unit, keys in a sample's metrics[stream], tried in order).
CHART_METRICS = {
    "latency": ("Latency (round trip)", "ms", ("latency_ms", "latency")),
    "jitter": ("Jitter", "ms", ("jitter_ms", "jitter")),
    "loss": ("Packet loss (average)", "%", ("avg_loss_pct", "avg_loss", "loss_pct")),
}



def meetings_with_quality(qs: QuerySet[ZoomMeeting] | None = None) -> QuerySet[ZoomMeeting]:
    """Meetings annotated from their participant rows: counts, share of poor, worst metric.

    `q_participants`, `q_poor`, `q_classified` (ints), `q_poor_share` (0..1, None when no
    participant was classified) and `q_worst` (the reason of the lowest-MOS poor participant,
    else the meeting's own `worst_metric`).
    """
    qs = ZoomMeeting.objects.all() if qs is None else qs
    meeting = OuterRef("pk")
    parts = ZoomParticipant.objects.filter(meeting=meeting)
    worst = (parts.filter(quality=Quality.POOR).exclude(quality_reason="")
             .order_by(F("mos").asc(nulls_last=True), "position").values("quality_reason")[:1])
    qs = qs.select_related("tenant").annotate(
        q_participants=count_subquery(parts),
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


def meeting_participants(*, meeting: ZoomMeeting) -> QuerySet[ZoomParticipant]:
    return (ZoomParticipant.objects.filter(meeting=meeting).select_related("user")
            .annotate(q_samples=qos_sample_count_subquery(meeting_id=meeting.pk))
            .order_by("position"))


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
class ParticipantSeries:
    participant_id: int
    series: Series = field(default_factory=dict)
    samples: int = 0


def meeting_qos_series(*, meeting: ZoomMeeting,
                       participant_ids: list[int] | None = None) -> dict[int, ParticipantSeries]:
    """Per participant, latency/jitter/loss over time per stream, from the stored samples.

    One query for the whole meeting. Streams without a single number are dropped, so charts
    show only what Zoom measured; a missing value inside a series stays None (a gap).
    """
    wanted = {key for _label, _unit, keys in CHART_METRICS.values() for key in keys}
    raw: dict[int, list[tuple[dt.datetime, dict]]] = defaultdict(list)
    for row in qos_samples_read(meeting_id=meeting.pk, participant_ids=participant_ids,
                                metric_keys=wanted):
        raw[row.participant_id].append(
            (row.sampled_at, row.metrics if isinstance(row.metrics, dict) else {}))
    result: dict[int, ParticipantSeries] = {}
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
        result[pid] = ParticipantSeries(participant_id=pid, series=series, samples=len(rows))
    return result


def meeting_worst_series(per_participant: dict[int, ParticipantSeries]) -> Series:
    """Meeting-level view: per minute and stream, the worst (highest) value of any participant."""
    buckets: dict[str, dict[str, dict[dt.datetime, float]]] = defaultdict(
        lambda: defaultdict(dict))
    for ps in per_participant.values():
        for metric, streams in ps.series.items():
            for stream, points in streams.items():
                for t, v in points:
                    if v is None:
                        continue
                    minute = t.replace(second=0, microsecond=0)
                    prev = buckets[metric][stream].get(minute)
                    buckets[metric][stream][minute] = v if prev is None else max(prev, v)
    return {metric: {stream: sorted(streams[stream].items()) for stream in STREAMS
                     if stream in streams}
            for metric, streams in buckets.items()}


# --- The meeting page's charts ---------------------------------------------------------------

# Reference lines on the charts: the default "poor" limits of the quality rules (Microsoft CQD
# audio: round trip > 500 ms, jitter > 30 ms, packet loss > 10 %).
CHART_THRESHOLDS = {
    "latency": Threshold(500, "poor above 500 ms"),
    "jitter": Threshold(30, "poor above 30 ms"),
    "loss": Threshold(10, "poor above 10 %"),
}
# Charts drawn per participant on one page; the meeting-level charts always cover everyone.
MAX_PARTICIPANT_CHARTS = 60


@dataclass
class MeetingPage:
    """What the meeting page shows: meeting-level charts, and per participant a row with its
    charts (`charts_skipped` past MAX_PARTICIPANT_CHARTS)."""

    meeting_charts: list
    rows: list[dict]


def meeting_page(*, meeting: ZoomMeeting) -> MeetingPage:
    """Participants, QoS series and SVG charts of one meeting (three queries)."""
    participants = list(meeting_participants(meeting=meeting))
    # Past the retention only the per-participant results are left: nothing to chart.
    series = {} if meeting.qos_expired_at else meeting_qos_series(meeting=meeting)
    worst = meeting_worst_series(series)
    meeting_charts = [
        line_chart_svg(
            chart_id=f"meeting-{meeting.pk}-{metric}",
            title=f"{label}: worst participant per minute",
            series=[ChartSeries(STREAM_LABELS[s], pts) for s, pts in worst[metric].items()],
            y_label=label.split(" (")[0], unit=unit,
            thresholds=[CHART_THRESHOLDS[metric]],
            description=f"{label} of this meeting per stream, highest value among "
                        "participants each minute.")
        for metric, (label, unit, _keys) in CHART_METRICS.items() if metric in worst]
    # Poor participants first, so their charts are inside the drawn set.
    charted = sorted(participants, key=lambda p: (p.quality != "poor", p.position))
    charted_ids = {p.pk for p in charted[:MAX_PARTICIPANT_CHARTS]}
    rows = []
    for p in participants:
        ps = series.get(p.pk)
        charts = []
        if ps and p.pk in charted_ids:
            for metric, (label, unit, _keys) in CHART_METRICS.items():
                if metric not in ps.series:
                    continue
                charts.append(line_chart_svg(
                    chart_id=f"participant-{p.pk}-{metric}",
                    title=f"{label}: {p.user_name or 'participant ' + str(p.position)}",
                    series=[ChartSeries(STREAM_LABELS[s], pts)
                            for s, pts in ps.series[metric].items()],
                    y_label=label.split(" (")[0], unit=unit,
                    thresholds=[CHART_THRESHOLDS[metric]], height=220))
        rows.append({"participant": p, "charts": charts,
                     "samples": ps.samples if ps else 0,
                     "charts_skipped": bool(ps) and p.pk not in charted_ids})
    return MeetingPage(meeting_charts=meeting_charts, rows=rows)
