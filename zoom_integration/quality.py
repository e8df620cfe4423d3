"""Call-quality arithmetic: pure functions, no database, no HTTP.

Owns: parsing Zoom's QoS strings ("126 ms", "0.3%", "812 kbps", "1280*720", "25 fps", "-", "")
defensively (never raises; unknown text is kept raw), reading each stream from its own block or
else its room-connector (CRC) or RWG block, per-person per-stream min/avg/max,
the Good/Poor/Unclassified classification with its reasons (the
Microsoft CQD audio/video/screen-share rules with round trip = Zoom's latency,
https://learn.microsoft.com/en-us/microsoftteams/stream-classification-in-call-quality-dashboard),
and an E-model MOS estimate (ITU-T G.107 simplified form). Thresholds live in one dataclass.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .fields import jsonable
from .zoom import STREAM_NAMES, STREAMS

# Zoom key -> (our metric name, expected unit), as in the Dashboard QoS answers.
METRIC_KEYS = {
    "latency": ("latency_ms", "ms"),
    "jitter": ("jitter_ms", "ms"),
    "avg_loss": ("avg_loss_pct", "%"),
    "max_loss": ("max_loss_pct", "%"),
    "bitrate": ("bitrate_kbps", "kbps"),
    "frame_rate": ("frame_rate_fps", "fps"),
}
SUMMARY_METRICS = ("latency_ms", "jitter_ms", "avg_loss_pct", "max_loss_pct", "bitrate_kbps",
                   "frame_rate_fps")
UNITS = {"latency_ms": "ms", "jitter_ms": "ms", "avg_loss_pct": "%", "max_loss_pct": "%",
         "bitrate_kbps": "kbps", "frame_rate_fps": "fps"}

_NUMBER = re.compile(r"^\s*([-+]?(?:\d+(?:[.,]\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z%/]*)\s*$")
_RESOLUTION = re.compile(r"^\s*(\d{1,6})\s*[*xX×]\s*(\d{1,6})\s*$")
_EMPTY = {"", "-", "--", "n/a", "na", "null", "none"}
# Unit conversions to the metric's canonical unit.
_SCALE = {
    "ms": {"ms": 1.0, "s": 1000.0, "sec": 1000.0, "us": 0.001},
    "%": {"%": 1.0},
    "kbps": {"kbps": 1.0, "bps": 0.001, "mbps": 1000.0, "kb/s": 1.0, "mb/s": 1000.0},
    "fps": {"fps": 1.0},
    "dBm": {"dbm": 1.0},  # Wi-Fi signal strength (wifi_rssi); Zoom names the unit in rssi_unit
}


@dataclass(frozen=True)
class Parsed:
    """A parsed value: `value` None when Zoom sent no data; `ok` False when text was unreadable."""

    value: float | None
    ok: bool = True


def parse_metric(raw: Any, unit: str = "") -> Parsed:
    """A number in `unit` from Zoom's string; never raises.

    "-", "" and None mean no data (value None, ok True). A bare number is taken in `unit`.
    A known unit is converted; an unknown unit, or text that is not a number, is not ok (the
    caller keeps the raw text).
    """
    try:
        return _parse_metric(raw, unit)
    except TypeError:  # unhashable (a list or dict where Zoom should send a string)
        return Parsed(None, False)


@lru_cache(maxsize=8192, typed=True)  # the same few hundred strings repeat across samples
def _parse_metric(raw: Any, unit: Any) -> Parsed:
    if not isinstance(unit, str):
        return Parsed(None, False)
    if raw is None or isinstance(raw, bool):
        return Parsed(None, raw is None)
    if isinstance(raw, int | float):
        return Parsed(float(raw), True) if math.isfinite(raw) else Parsed(None, False)
    if not isinstance(raw, str):
        return Parsed(None, False)
    text = raw.strip()
    if text.lower() in _EMPTY:
        return Parsed(None, True)
    match = _NUMBER.match(text)
    if not match:
        return Parsed(None, False)
    try:
        number = float(match.group(1).replace(",", "."))
    except ValueError:
        return Parsed(None, False)
    if not math.isfinite(number):
        return Parsed(None, False)
    found = match.group(2).lower()
    if not found:
        return Parsed(number, True)
    scale = _SCALE.get(unit, {}).get(found) if unit else None
    if scale is None:
        if not unit and found in {"ms", "%", "kbps", "fps"}:
            return Parsed(number, True)
        return Parsed(None, False)
    return Parsed(number * scale, True)


def parse_resolution(raw: Any) -> tuple[int, int] | None | bool:
    """(width, height) from "1280*720"; None for no data; False when unreadable."""
    if not _hashable(raw):
        return False
    return _parse_resolution(raw)


@lru_cache(maxsize=1024, typed=True)
def _parse_resolution(raw: Any) -> tuple[int, int] | None | bool:
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in _EMPTY):
        return None
    if not isinstance(raw, str):
        return False
    match = _RESOLUTION.match(raw)
    if not match:
        return False
    return int(match.group(1)), int(match.group(2))


# Alternative blocks of each stream, tried in this order when the stream's own block carries no
# data: the Cloud Room Connector's (room systems over H.323/SIP, whose own blocks are empty), then
# RWG's. "from" is what the device sent (its input), "to" what it received (its output).
ALTERNATE_BLOCKS: dict[str, tuple[str, ...]] = {
    f"{medium}_{direction}": tuple(f"{medium}_device_{side}_{path}" for path in ("crc", "rwg"))
    for medium in ("audio", "video", "as")
    for direction, side in (("input", "from"), ("output", "to"))
}
_KNOWN_TOP = frozenset({"date_time", "cpu_usage", "wifi_rssi", *STREAMS,
                        *(b for blocks in ALTERNATE_BLOCKS.values() for b in blocks)})
# Unknown fields are kept beside the sample, small: long text cut, big objects summarised.
_KEEP_TEXT = 200
_KEEP_JSON = 500


@dataclass
class ParsedSample:
    """One sample: numbers per stream (the six streams only), `cpu`, `wifi`, and `unparsed`
    (raw text of skipped blocks and unknown fields, by path). `warnings` counts blocks skipped as
    unreadable, `unknown` the unknown fields kept."""

    sampled_at: str | None
    metrics: dict[str, dict[str, Any]]
    cpu: dict[str, Any]
    wifi: dict[str, Any]
    unparsed: dict[str, Any]
    warnings: int = 0
    unknown: int = 0


def _compact(value: Any) -> Any:
    """A raw value small enough to keep on every sample."""
    if isinstance(value, str):
        return jsonable(value[:_KEEP_TEXT])
    if value is None or isinstance(value, int | float | bool):
        return jsonable(value)
    safe = jsonable(value)
    try:
        size = len(json.dumps(safe))
    except (TypeError, ValueError):  # pragma: no cover - jsonable output always dumps
        size = _KEEP_JSON + 1
    if size <= _KEEP_JSON:
        return safe
    kind = "object" if isinstance(value, dict) else "list"
    return f"<{kind} of {len(value) if hasattr(value, '__len__') else '?'} items>"


def _stream_block(name: str, block: Any, unparsed: dict[str, Any]
                  ) -> tuple[dict[str, Any] | None, int, int]:
    """(values, warnings, unknown) of one stream block.

    Values are None when the block is skipped: not an object, or a known metric with text
    that is not a number in its unit (the block's raw text is then kept in `unparsed`). A block
    is all or nothing, so a half-read block never passes for a good one. Unknown keys are kept
    raw and do not spoil the block: Zoom adds fields without notice.
    """
    if not isinstance(block, dict):
        unparsed[jsonable(name)] = _compact(block)
        return None, 1, 0
    values: dict[str, Any] = {}
    bad: dict[str, Any] = {}
    unknown = 0
    for key, raw in block.items():
        spec = METRIC_KEYS.get(key)
        if spec is not None:
            parsed = parse_metric(raw, spec[1])
            if parsed.value is not None:
                values[spec[0]] = parsed.value
            elif not parsed.ok:
                bad[jsonable(f"{name}.{key}")] = _compact(raw)
        elif key == "resolution":
            res = parse_resolution(raw)
            if res:
                values["resolution"] = f"{res[0]}x{res[1]}"
            elif res is False:
                bad[jsonable(f"{name}.{key}")] = _compact(raw)
        else:
            unparsed[jsonable(f"{name}.{key}")] = _compact(raw)
            unknown += 1
    if bad:
        unparsed.update(bad)
        return None, 1, unknown
    return values, 0, unknown


def _percent_block(name: str, block: Any, unit: str, unparsed: dict[str, Any],
                   skip: tuple[str, ...] = ()) -> tuple[dict[str, Any], int]:
    """`cpu_usage` / `wifi_rssi`: numbers by key, or nothing (one warning) when any value is
    unreadable."""
    if not isinstance(block, dict):
        unparsed[jsonable(name)] = _compact(block)
        return {}, 1
    values: dict[str, Any] = {}
    bad: dict[str, Any] = {}
    for key, raw in block.items():
        if key in skip:
            continue
        parsed = parse_metric(raw, unit)
        if parsed.value is not None:
            values[jsonable(str(key))] = parsed.value
        elif not parsed.ok:
            bad[jsonable(f"{name}.{key}")] = _compact(raw)
    if bad:
        unparsed.update(bad)
        return {}, 1
    return values, 0


def sample_parse(item: Any) -> ParsedSample:
    """One `user_qos` entry → numbers per stream, with what could not be used kept by path.

    Each of the six streams takes its own block when that carries data, else the first of its
    CRC / RWG blocks that does (`ALTERNATE_BLOCKS`): room systems report only there. A block
    with unreadable values is skipped (counted in `warnings`) and the next one tried; unknown
    fields are kept in `unparsed` (counted in `unknown`); nothing raises.
    """
    if not isinstance(item, dict):
        return ParsedSample(None, {}, {}, {}, {"_": _compact(item)}, warnings=1)
    metrics: dict[str, dict[str, Any]] = {}
    unparsed: dict[str, Any] = {}
    warnings = unknown = 0
    for stream in STREAMS:
        for name in (stream, *ALTERNATE_BLOCKS[stream]):
            block = item.get(name)
            if not block:
                continue
            values, warned, unknowns = _stream_block(name, block, unparsed)
            warnings += warned
            unknown += unknowns
            if values:
                metrics[stream] = values
                break
    cpu: dict[str, Any] = {}
    block = item.get("cpu_usage")
    if block:
        cpu, warned = _percent_block("cpu_usage", block, "%", unparsed)
        warnings += warned
    wifi: dict[str, Any] = {}
    block = item.get("wifi_rssi")
    if block:
        wifi, warned = _percent_block("wifi_rssi", block, "dBm", unparsed, skip=("rssi_unit",))
        warnings += warned
    for key, raw in item.items():
        if key not in _KNOWN_TOP:
            unparsed[jsonable(str(key))] = _compact(raw)
            unknown += 1
    sampled_at = item.get("date_time")
    return ParsedSample(sampled_at if isinstance(sampled_at, str) else None, metrics, cpu, wifi,
                        unparsed, warnings, unknown)


def _hashable(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


# -- summaries -----------------------------------------------------------------------------------

def _active(values: dict[str, Any]) -> bool:
    """A stream sample carries media: bitrate above zero, or (no bitrate) any number above 0."""
    bitrate = values.get("bitrate_kbps")
    if bitrate is not None:
        return bitrate > 0
    fps = values.get("frame_rate_fps")
    if fps is not None:
        return fps > 0
    return any(values.get(m) for m in ("latency_ms", "jitter_ms"))


class SummaryAccumulator:
    """Running min/sum/max per stream and metric: constant memory however many samples."""

    __slots__ = ("counts", "stats")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.stats: dict[str, dict[str, list[float]]] = {}

    def add(self, metrics: dict[str, dict[str, Any]]) -> None:
        for stream, values in metrics.items():
            if not _active(values):
                continue
            self.counts[stream] = self.counts.get(stream, 0) + 1
            per = self.stats.get(stream)
            if per is None:
                per = self.stats[stream] = {}
            for metric in SUMMARY_METRICS:
                value = values.get(metric)
                if value is None:
                    continue
                entry = per.get(metric)
                if entry is None:
                    per[metric] = [value, value, value, 1]
                else:
                    if value < entry[0]:
                        entry[0] = value
                    if value > entry[2]:
                        entry[2] = value
                    entry[1] += value
                    entry[3] += 1

    def merge(self, other: SummaryAccumulator) -> None:
        """Adds `other`'s samples: the same result as feeding this one every sample of both
        (a person's join sessions are classified as one)."""
        for stream, count in other.counts.items():
            self.counts[stream] = self.counts.get(stream, 0) + count
            per = self.stats.setdefault(stream, {})
            for metric, (low, total, high, n) in other.stats.get(stream, {}).items():
                entry = per.get(metric)
                if entry is None:
                    per[metric] = [low, total, high, n]
                else:
                    entry[0] = min(entry[0], low)
                    entry[1] += total
                    entry[2] = max(entry[2], high)
                    entry[3] += n

    def summaries(self) -> dict[str, dict[str, Any]]:
        """Per stream: {"samples": n, metric: {"min", "avg", "max"}} over samples with media."""
        out: dict[str, dict[str, Any]] = {}
        for stream in STREAMS:
            if stream not in self.counts:
                continue
            summary: dict[str, Any] = {"samples": self.counts[stream]}
            for metric, (low, total, high, n) in self.stats.get(stream, {}).items():
                summary[metric] = {"min": round(low, 3), "avg": round(total / n, 3),
                                   "max": round(high, 3)}
            out[stream] = summary
        return out


def stream_summaries(samples: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per stream: {"samples": n, metric: {"min", "avg", "max"}} over samples carrying media."""
    acc = SummaryAccumulator()
    for metrics in samples:
        acc.add(metrics)
    return acc.summaries()


# -- classification ------------------------------------------------------------------------------

@dataclass(frozen=True)
class QualityThresholds:
    """Defaults: Microsoft CQD stream classification, round trip = Zoom `latency`.

    Averages decide.
    """

    audio_round_trip_ms: float = 500.0
    audio_loss_pct: float = 10.0
    audio_jitter_ms: float = 30.0
    video_min_fps: float = 7.0
    video_loss_pct: float = 15.0
    screen_share_min_fps: float = 2.0
    # "only when enough packets flowed": fewer media samples than this → Unclassified.
    min_samples: int = 2
    mos_good: float = 4.0


DEFAULT_THRESHOLDS = QualityThresholds()

_STREAM_LABEL = STREAM_NAMES
_METRIC_LABEL = {"latency_ms": "round trip", "jitter_ms": "jitter", "avg_loss_pct": "loss",
                 "frame_rate_fps": "frame rate"}


@dataclass(frozen=True)
class Reason:
    stream: str
    metric: str
    value: float
    limit: float
    op: str  # ">" or "<"

    def __str__(self) -> str:
        unit = UNITS.get(self.metric, "")
        sep = "" if unit == "%" else " "
        return (f"{_STREAM_LABEL.get(self.stream, self.stream)} "
                f"{_METRIC_LABEL.get(self.metric, self.metric)} "
                f"{_fmt(self.value)}{sep}{unit} {self.op} {_fmt(self.limit)}{sep}{unit}")

    def as_dict(self) -> dict[str, Any]:
        return {"stream": self.stream, "metric": self.metric, "value": self.value,
                "limit": self.limit, "op": self.op, "text": str(self)}


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


@dataclass
class Classification:
    quality: str  # "good" | "poor" | "unclassified" (models.metrics.Quality values)
    reasons: list[Reason] = field(default_factory=list)
    mos: float | None = None
    classified_streams: list[str] = field(default_factory=list)

    @property
    def reason_text(self) -> str:
        return "; ".join(str(r) for r in self.reasons)


def _avg(summary: dict[str, Any], metric: str) -> float | None:
    entry = summary.get(metric)
    return entry["avg"] if isinstance(entry, dict) else None


def _stream_reasons(stream: str, summary: dict[str, Any], t: QualityThresholds) -> list[Reason]:
    reasons: list[Reason] = []

    def above(metric: str, limit: float) -> None:
        value = _avg(summary, metric)
        if value is not None and value > limit:
            reasons.append(Reason(stream, metric, value, limit, ">"))

    def below(metric: str, limit: float) -> None:
        value = _avg(summary, metric)
        if value is not None and value < limit:
            reasons.append(Reason(stream, metric, value, limit, "<"))

    if stream.startswith("audio"):
        above("latency_ms", t.audio_round_trip_ms)
        above("avg_loss_pct", t.audio_loss_pct)
        above("jitter_ms", t.audio_jitter_ms)
    elif stream.startswith("video"):
        below("frame_rate_fps", t.video_min_fps)
        above("avg_loss_pct", t.video_loss_pct)
    else:
        below("frame_rate_fps", t.screen_share_min_fps)
    return reasons


def participant_classify(summaries: dict[str, dict[str, Any]],
                         thresholds: QualityThresholds = DEFAULT_THRESHOLDS) -> Classification:
    """Poor when any stream breaks a rule; Good when one stream had enough data and none broke;
    otherwise Unclassified (no data, very short call, muted listener)."""
    reasons: list[Reason] = []
    classified: list[str] = []
    for stream in STREAMS:
        summary = summaries.get(stream)
        if not summary or summary.get("samples", 0) < thresholds.min_samples:
            continue
        classified.append(stream)
        reasons.extend(_stream_reasons(stream, summary, thresholds))
    mos = participant_mos(summaries, thresholds)
    if reasons:
        quality = "poor"
    elif classified:
        quality = "good"
    else:
        quality = "unclassified"
    return Classification(quality, reasons, mos, classified)


def mos_estimate(round_trip_ms: float, jitter_ms: float = 0.0, loss_pct: float = 0.0) -> float:
    """E-model (ITU-T G.107 simplified form): MOS from 1 to 4.5."""
    effective = round_trip_ms + 2 * jitter_ms + 10.0
    r = 94.768 - effective / 40 if effective < 160 else 94.768 - (effective - 120) / 10
    r -= 2.5 * loss_pct
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return round(1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r), 3)


def participant_mos(summaries: dict[str, dict[str, Any]],
                    thresholds: QualityThresholds = DEFAULT_THRESHOLDS) -> float | None:
    """The worst audio stream's MOS (each channel scored, the worst wins); None without audio."""
    scores = []
    for stream in ("audio_input", "audio_output"):
        summary = summaries.get(stream)
        if not summary or summary.get("samples", 0) < thresholds.min_samples:
            continue
        rtt = _avg(summary, "latency_ms")
        if rtt is None:
            continue
        scores.append(mos_estimate(rtt, _avg(summary, "jitter_ms") or 0.0,
                                   _avg(summary, "avg_loss_pct") or 0.0))
    return min(scores) if scores else None


def meeting_classify(participants: list[Classification]) -> tuple[str, str]:
    """(quality, worst reason): Poor if any participant is, Good if any was classified."""
    poor = [c for c in participants if c.quality == "poor"]
    if poor:
        worst = min(poor, key=lambda c: c.mos if c.mos is not None else 5.0)
        return "poor", (str(worst.reasons[0]) if worst.reasons else "")[:200]
    if any(c.quality == "good" for c in participants):
        return "good", ""
    return "unclassified", ""
