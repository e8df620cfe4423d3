"""Per-minute QoS storage: the only code that writes, reads, partitions and expires samples.

A sample is handled everywhere else as the parser makes it: `metrics` = {stream: {latency_ms,
jitter_ms, avg_loss_pct, max_loss_pct, bitrate_kbps, frame_rate_fps, resolution}}, plus `cpu`,
`wifi` and `unparsed` dicts. Here it becomes one `QosMinute` row of small typed columns
(`models/qos.py`): a value goes into its column only when it comes back out *exactly* equal,
everything else (a fourth decimal, a new field Zoom adds, unparsed strings) into `extra`, so the
encoding is lossless and `extra` stays NULL for nearly every row.

On PostgreSQL the table is partitioned by month on `meeting_ended_at`. `qos_partitions_ensure`
creates the coming months ahead (a daily task); a default partition takes anything else.
`qos_retention` drops whole months older than the retention, deletes the remainder, and marks
each meeting `qos_expired_at`; the per-participant results on `ZoomParticipant` stay.

Reads: a meeting's (or some participants') samples decoded back into the parser's shape
(`qos_samples_read`), and the meeting page's per-minute spread across people computed by
PostgreSQL from the columns without decoding a row (`qos_minute_spread`).

Meetings stored before the compact table existed keep their rows in the former `QosSample`
table until `manage.py qos_migrate_samples` moves them; reads fall back to it meanwhile.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import QosMinute, QosSample, ZoomMeeting, ZoomParticipant
from .models.qos import CPU_COLUMNS, FPS, PICTURE_STREAMS, STREAM_METRICS, WIFI_COLUMNS
from .selectors.subqueries import count_subquery
from .zoom import STREAMS

TABLE = QosMinute._meta.db_table
DEFAULT_PARTITION = f"{TABLE}_default"
_PARTITION_NAME = re.compile(rf"^{TABLE}_p(\d{{4}})(\d{{2}})$")
COPY_BATCH = 2000
SMALLINT = (-32768, 32767)
INTEGER = (-2147483648, 2147483647)
_RESOLUTION = re.compile(r"^(\d{1,5})x(\d{1,5})$")

# Column layout: (column, where in the sample, key, scale, range). `where` is a stream name,
# "cpu" or "wifi".
_SPECS: list[tuple[str, str, str, int, tuple[int, int]]] = []
for _stream in STREAMS:
    for _key, _suffix, _scale in STREAM_METRICS:
        _SPECS.append((f"{_stream}_{_suffix}", _stream, _key, _scale,
                       INTEGER if _suffix == "bitrate" else SMALLINT))
    if _stream in PICTURE_STREAMS:
        _SPECS.append((f"{_stream}_{FPS[1]}", _stream, FPS[0], FPS[2], SMALLINT))
for _key, (_column, _scale) in CPU_COLUMNS.items():
    _SPECS.append((_column, "cpu", _key, _scale, SMALLINT))
for _key, (_column, _scale) in WIFI_COLUMNS.items():
    _SPECS.append((_column, "wifi", _key, _scale, SMALLINT))
_BY_PLACE: dict[str, dict[str, tuple[str, int, tuple[int, int]]]] = {}
for _column, _where, _key, _scale, _range in _SPECS:
    _BY_PLACE.setdefault(_where, {})[_key] = (_column, _scale, _range)
VALUE_COLUMNS = tuple(spec[0] for spec in _SPECS)
RESOLUTION_COLUMNS = tuple(c for s in PICTURE_STREAMS for c in (f"{s}_width", f"{s}_height"))
KEY_COLUMNS = ("participant_id", "meeting_id", "sampled_at", "meeting_ended_at")
WRITE_COLUMNS = (*KEY_COLUMNS, *VALUE_COLUMNS, *RESOLUTION_COLUMNS, "extra")


@dataclass(frozen=True)
class QosRow:
    """One sample as the rest of the app sees it (the parser's shape)."""

    participant_id: int
    sampled_at: dt.datetime
    metrics: dict
    cpu: dict
    wifi: dict
    unparsed: dict


# --- encoding ------------------------------------------------------------------------------

# Position of each column in an encoded row (values, then resolutions), and per place (stream,
# "cpu", "wifi") the key -> (position, scale, low, high) of its numbers. Table-driven, because
# this runs for every participant-minute (60,000 for a 1,000-person hour).
ENCODED_COLUMNS = (*VALUE_COLUMNS, *RESOLUTION_COLUMNS)
_POSITION = {column: i for i, column in enumerate(ENCODED_COLUMNS)}
_TABLES: dict[str, dict[str, tuple[int, int, int, int]]] = {
    place: {key: (_POSITION[column], scale, bounds[0], bounds[1])
            for key, (column, scale, bounds) in keys.items()}
    for place, keys in _BY_PLACE.items()}
_RES_POSITIONS = {s: (_POSITION[f"{s}_width"], _POSITION[f"{s}_height"]) for s in PICTURE_STREAMS}
_KINDS = {"cpu": 1, "wifi": 2}


def _fill(block: dict, place: str, out: list) -> dict | None:
    """Puts the numbers of one block (a stream, cpu or wifi) into `out`; returns what is left
    for `extra` (None when nothing; {} for an empty block, so it reads back as it was)."""
    table = _TABLES.get(place, {})
    left = None
    for key, value in block.items():
        spec = table.get(key)
        if spec is not None and (value.__class__ is float or value.__class__ is int):
            position, scale, low, high = spec
            try:
                stored = round(value * scale)
            except (OverflowError, ValueError):  # inf, nan
                stored = None
            if stored is not None and low <= stored <= high and stored / scale == value:
                out[position] = stored
                continue
        elif key == "resolution" and value.__class__ is str and place in _RES_POSITIONS:
            match = _RESOLUTION.match(value)
            if match:
                width, height = int(match[1]), int(match[2])
                if f"{width}x{height}" == value and max(width, height) <= SMALLINT[1]:
                    w_at, h_at = _RES_POSITIONS[place]
                    out[w_at], out[h_at] = width, height
                    continue
        if left is None:
            left = {}
        left[key] = value
    return {} if not block else left


def encode_row(*, metrics, cpu, wifi, unparsed) -> tuple[list, dict | None]:
    """(values in ENCODED_COLUMNS order, extra) for one parsed sample."""
    out: list = [None] * len(ENCODED_COLUMNS)
    extra: dict = {}
    if isinstance(metrics, dict):
        rest = {}
        for stream, block in metrics.items():
            left = _fill(block, stream, out) if stream in _TABLES and isinstance(
                block, dict) else block
            if left is not None:
                rest[stream] = left
        if rest:
            extra["metrics"] = rest
    else:
        extra["metrics"] = metrics
    for place, block in (("cpu", cpu), ("wifi", wifi)):
        if not isinstance(block, dict):
            extra[place] = block
            continue
        left = _fill(block, place, out)
        if left:
            extra[place] = left
    if unparsed:
        extra["unparsed"] = unparsed
    return out, (extra or None)


def encode(*, metrics, cpu, wifi, unparsed) -> tuple[dict, dict | None]:
    """(column -> value for the columns used, extra) for one parsed sample."""
    out, extra = encode_row(metrics=metrics, cpu=cpu, wifi=wifi, unparsed=unparsed)
    return {c: v for c, v in zip(ENCODED_COLUMNS, out, strict=True) if v is not None}, extra


def _merge(base, patch):
    if isinstance(base, dict) and isinstance(patch, dict):
        for key, value in patch.items():
            base[key] = _merge(base[key], value) if key in base else value
        return base
    return patch


@functools.lru_cache(maxsize=8)
def _decoder(columns: tuple[str, ...]):
    """For a tuple of read columns: (position, kind, place, key, scale) of each number, and
    (place, width position, height position) of each resolution."""
    numbers = []
    for at, column in enumerate(columns):
        for c, where, key, scale, _range in _SPECS:
            if c == column:
                numbers.append((at, _KINDS.get(where, 0), where, key, scale))
    sizes = [(s, columns.index(f"{s}_width"), columns.index(f"{s}_height"))
             for s in PICTURE_STREAMS if f"{s}_width" in columns]
    return tuple(numbers), tuple(sizes)


def decode_row(columns: tuple[str, ...], values, extra) -> tuple[dict, dict, dict, dict]:
    """(metrics, cpu, wifi, unparsed) from the values of `columns` and `extra`."""
    numbers, sizes = _decoder(columns)
    metrics: dict = {}
    cpu: dict = {}
    wifi: dict = {}
    for at, kind, place, key, scale in numbers:
        stored = values[at]
        if stored is None:
            continue
        if kind == 0:
            block = metrics.get(place)
            if block is None:
                block = metrics[place] = {}
            block[key] = stored / scale
        else:
            (cpu if kind == 1 else wifi)[key] = stored / scale
    for place, w_at, h_at in sizes:
        if values[w_at] is not None:
            metrics.setdefault(place, {})["resolution"] = f"{values[w_at]}x{values[h_at]}"
    if not extra:
        return metrics, cpu, wifi, {}
    if "metrics" in extra:
        metrics = _merge(metrics, extra["metrics"])
    if "cpu" in extra:
        cpu = _merge(cpu, extra["cpu"])
    if "wifi" in extra:
        wifi = _merge(wifi, extra["wifi"])
    return metrics, cpu, wifi, extra.get("unparsed") or {}


def decode(values: dict, extra: dict | None) -> tuple[dict, dict, dict, dict]:
    """(metrics, cpu, wifi, unparsed) from a row's column values and `extra`."""
    return decode_row(ENCODED_COLUMNS, [values.get(c) for c in ENCODED_COLUMNS], extra)


# --- writing ---------------------------------------------------------------------------

def _row_values(pid, mid, sampled_at, ended_at, metrics, cpu, wifi, unparsed) -> tuple:
    values, extra = encode_row(metrics=metrics, cpu=cpu, wifi=wifi, unparsed=unparsed)
    return (pid, mid, sampled_at, ended_at, *values, extra)


def qos_samples_write(*, ended_at: dt.datetime, rows: Iterable[tuple]) -> int:
    """Stores parsed samples of one meeting that ended at `ended_at` (the partition key).

    Rows: (participant_id, meeting_id, sampled_at, metrics, cpu, wifi, unparsed). PostgreSQL
    takes them by COPY (no per-row ORM work); other databases by bulk_create. Returns the count.
    """
    encoded = [_row_values(r[0], r[1], r[2], ended_at, *r[3:7]) for r in rows]
    if not encoded:
        return 0
    if connection.vendor != "postgresql":
        QosMinute.objects.bulk_create(
            [QosMinute(**dict(zip(WRITE_COLUMNS, values, strict=True))) for values in encoded],
            batch_size=500)
        return len(encoded)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(c) for c in WRITE_COLUMNS)
    dumps = json.dumps
    with connection.cursor() as cursor, cursor.cursor.copy(
            f"COPY {quote(TABLE)} ({columns}) FROM STDIN") as copy:
        for values in encoded:
            extra = values[-1]
            copy.write_row((*values[:-1], None if extra is None else dumps(extra)))
    return len(encoded)


def qos_samples_delete(*, meeting_id: int) -> int:
    """Removes a meeting's samples (both shapes), e.g. before a fetch stores them again."""
    removed, _ = QosMinute.objects.filter(meeting_id=meeting_id).delete()
    legacy, _ = QosSample.objects.filter(meeting_id=meeting_id).delete()
    return removed + legacy


# --- reading ---------------------------------------------------------------------------------

def _columns_for(metric_keys: set[str] | None) -> tuple[str, ...]:
    if metric_keys is None:
        return (*VALUE_COLUMNS, *RESOLUTION_COLUMNS)
    columns = [c for c, where, key, _s, _r in _SPECS
               if where in STREAMS and key in metric_keys]
    if "resolution" in metric_keys:
        columns.extend(RESOLUTION_COLUMNS)
    return tuple(columns)


def qos_samples_read(*, meeting_id: int, participant_ids: Iterable[int] | None = None,
                     metric_keys: set[str] | None = None) -> list[QosRow]:
    """A meeting's samples in the parser's shape, by participant then time (one query).

    `metric_keys` (e.g. {"latency_ms", "jitter_ms"}) reads only those stream metrics, which
    is all the charts need; `extra` is always read, so a value kept there is never lost.
    A meeting not yet moved from the former table is read from there.
    """
    columns = _columns_for(metric_keys)
    qs = QosMinute.objects.filter(meeting_id=meeting_id)
    if participant_ids is not None:
        qs = qs.filter(participant_id__in=list(participant_ids))
    rows = []
    names = ("participant_id", "sampled_at", "extra", *columns)
    for record in qs.order_by("participant_id", "sampled_at", "id").values_list(*names):
        metrics, cpu, wifi, unparsed = decode_row(columns, record[3:], record[2])
        if metric_keys is not None and record[2]:  # keys kept in extra may be others
            metrics = {s: {k: v for k, v in block.items() if k in metric_keys}
                       if isinstance(block, dict) else block for s, block in metrics.items()}
        rows.append(QosRow(record[0], record[1], metrics, cpu, wifi, unparsed))
    if rows:
        return rows
    return _legacy_read(meeting_id=meeting_id, participant_ids=participant_ids)


def _legacy_read(*, meeting_id, participant_ids) -> list[QosRow]:
    qs = QosSample.objects.filter(meeting_id=meeting_id)
    if participant_ids is not None:
        qs = qs.filter(participant_id__in=list(participant_ids))
    return [QosRow(*values) for values in qs.order_by("participant_id", "sampled_at", "id")
            .values_list("participant_id", "sampled_at", "metrics", "cpu", "wifi", "unparsed")]


@dataclass(frozen=True)
class MinuteSpread:
    """One minute of a meeting across its people: per metric name, (median, worst)."""

    minute: dt.datetime
    values: dict[str, tuple[float, float]]


_STREAM_COLUMN = {key: (suffix, scale) for key, suffix, scale in STREAM_METRICS}


def qos_minute_spread(*, meeting_id: int,
                      metrics: dict[str, tuple[str, ...]]) -> list[MinuteSpread] | None:
    """Per minute, across the meeting's people, the median and the worst (highest) value of
    each metric, computed by PostgreSQL from the columns (one query, no row decoded here).

    `metrics` maps a name to the stream keys that give its value, tried in order, the first
    being the column's key (e.g. "latency": ("latency_ms", "latency")). A person counts once a
    minute, at their worst stream and worst sample (all their join sessions; sessions of no
    person are left out): what `meeting_summary_series` computes from decoded rows.

    Returns None when the columns cannot tell the whole story and the caller must decode the
    rows instead: not PostgreSQL, no compact rows (the meeting is still in the former table,
    or has no samples), or a row keeps a number for one of the keys in `extra` (a value that
    did not fit its column, or a key the parser names differently).
    """
    if connection.vendor != "postgresql" or not metrics:
        return None
    quote = connection.ops.quote_name
    keys = sorted({key for wanted in metrics.values() for key in wanted})
    # The per-person value of each metric: its worst stream (GREATEST ignores NULLs).
    person_values, spreads, names = [], [], []
    for index, (name, wanted) in enumerate(metrics.items()):
        suffix, scale = _STREAM_COLUMN[wanted[0]]
        columns = ", ".join(quote(f"{stream}_{suffix}") for stream in STREAMS)
        person_values.append(f"max(GREATEST({columns}))::float8 / {scale} AS v{index}")
        spreads.append(f"percentile_cont(0.5) WITHIN GROUP (ORDER BY v{index}), max(v{index})")
        names.append(name)
    # A row whose `extra` holds a non-null value under one of the keys, in a stream block:
    # that number is not in the columns (a null one means "no number" either way).
    in_extra = " OR ".join(
        f"coalesce(jsonb_strip_nulls(q.extra #> '{{metrics,{stream}}}') ?| %s, false)"
        for stream in STREAMS)
    # Table and column names are this module's constants, never input.
    sql = (
        f"WITH person_minute AS (SELECT date_trunc('minute', q.sampled_at) AS minute, "  # noqa: S608
        f"{', '.join(person_values)}, "
        f"bool_or(q.extra IS NOT NULL AND ({in_extra})) AS in_extra "
        f"FROM {quote(TABLE)} q JOIN {quote(ZoomParticipant._meta.db_table)} p "
        "ON p.id = q.participant_id "
        "WHERE q.meeting_id = %s AND p.person_id IS NOT NULL GROUP BY 1, p.person_id) "
        f"SELECT minute, bool_or(in_extra), {', '.join(spreads)} "
        "FROM person_minute GROUP BY minute ORDER BY minute")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*([keys] * len(STREAMS)), meeting_id])
        rows = cursor.fetchall()
    if not rows or any(row[1] for row in rows):
        return None
    spread = []
    for row in rows:
        values = {}
        for index, name in enumerate(names):
            median, worst = row[2 + 2 * index], row[3 + 2 * index]
            if worst is not None:
                values[name] = (float(median), float(worst))
        spread.append(MinuteSpread(row[0], values))
    return spread


def qos_sample_count_subquery(*, meeting_id: int):
    """Samples per participant (OuterRef "pk") of one meeting, for `.annotate()`."""
    return count_subquery(QosMinute.objects.filter(meeting_id=meeting_id,
                                                   participant=OuterRef("pk")))


# --- partitions (PostgreSQL) -----------------------------------------------------------------

def _month_start(moment: dt.datetime) -> dt.datetime:
    moment = moment.astimezone(dt.UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(start: dt.datetime) -> dt.datetime:
    return (start + dt.timedelta(days=32)).replace(day=1)


def partition_name(month: dt.datetime) -> str:
    return f"{TABLE}_p{month:%Y%m}"


def is_partitioned() -> bool:
    """True on PostgreSQL when the table was created partitioned (by the migrations)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s)",
                       [TABLE])
        return cursor.fetchone() is not None


def partitions_list() -> list[tuple[str, dt.datetime, dt.datetime]]:
    """The monthly partitions as (name, from, to), oldest first (the default one excluded)."""
    if not is_partitioned():
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                       " WHERE i.inhparent = to_regclass(%s)", [TABLE])
        names = [r[0] for r in cursor.fetchall()]
    months = []
    for name in names:
        match = _PARTITION_NAME.match(name)
        if match:
            start = dt.datetime(int(match[1]), int(match[2]), 1, tzinfo=dt.UTC)
            months.append((name, start, _next_month(start)))
    return sorted(months, key=lambda m: m[1])


def qos_partition_create(*, month: dt.datetime) -> bool:
    """Creates the partition of `month` if missing; False when it existed (or no partitioning).

    Rows of that month already in the default partition move into the new one in the same
    transaction (PostgreSQL refuses a partition whose range the default partition holds).
    """
    if not is_partitioned():
        return False
    start = _month_start(month)
    end = _next_month(start)
    name = partition_name(start)
    quote = connection.ops.quote_name
    bounds = f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
    with transaction.atomic(), connection.cursor() as cursor:
        # PostgreSQL refuses DDL on a table with foreign-key checks still pending in this
        # transaction (the deferred ones Django creates): run them now instead of at commit.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SELECT to_regclass(%s)", [name])
        if cursor.fetchone()[0] is not None:
            return False
        # Table names below are this module's constants, never input.
        cursor.execute(f"SELECT 1 FROM {quote(DEFAULT_PARTITION)} WHERE "  # noqa: S608
                       "meeting_ended_at >= %s AND meeting_ended_at < %s LIMIT 1", [start, end])
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE TABLE {quote(name)} PARTITION OF {quote(TABLE)} {bounds}")
            return True
        cursor.execute(f"CREATE TABLE {quote(name)} (LIKE {quote(TABLE)} INCLUDING DEFAULTS)")
        cursor.execute(f"WITH moved AS (DELETE FROM {quote(DEFAULT_PARTITION)} WHERE "  # noqa: S608
                       "meeting_ended_at >= %s AND meeting_ended_at < %s RETURNING *) "
                       f"INSERT INTO {quote(name)} SELECT * FROM moved", [start, end])
        cursor.execute(f"ALTER TABLE {quote(TABLE)} ATTACH PARTITION {quote(name)} {bounds}")
    return True


QOS_PARTITION_MONTHS_AHEAD = 2


def qos_partitions_ensure(*, now: dt.datetime | None = None,
                          months_ahead: int = QOS_PARTITION_MONTHS_AHEAD) -> list[str]:
    """Creates this month's partition and the next `months_ahead`; returns those created."""
    month = _month_start(now or timezone.now())
    created = []
    for _ in range(months_ahead + 1):
        if qos_partition_create(month=month):
            created.append(partition_name(month))
        month = _next_month(month)
    return created


# --- retention -------------------------------------------------------------------------------

def qos_retention(*, days: int, now: dt.datetime | None = None) -> dict:
    """Removes the per-minute samples of meetings that ended more than `days` ago.

    Whole monthly partitions older than the cut-off are dropped (no row-by-row delete, no
    table rewrite); what remains older than the cut-off is deleted. Each meeting losing its
    samples gets `qos_expired_at`; participants keep their classification, reason, MOS and
    per-stream summaries. Returns {"meetings", "samples_removed", "partitions_dropped",
    "cutoff"}.
    """
    if days < 0:
        raise ValueError("days must be 0 or more")
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=days)
    quote = connection.ops.quote_name
    expired = (ZoomMeeting.objects.filter(qos_expired_at__isnull=True)
               .annotate(ended=Coalesce("end_time", "fetched_at"))
               .filter(ended__lt=cutoff)
               .filter(Q(qos_samples__gt=0) | Q(fetch_status="done")))
    removed = 0
    dropped = []
    with transaction.atomic():
        meeting_ids = list(expired.select_for_update(of=("self",)).values_list("pk", flat=True))
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:  # see qos_partition_create
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for name, _start, end in partitions_list():
            if end <= cutoff:
                with connection.cursor() as cursor:
                    # `name` matched the partition pattern: a catalog name, never input.
                    cursor.execute(f"SELECT count(*) FROM {quote(name)}")  # noqa: S608
                    removed += cursor.fetchone()[0]
                    cursor.execute(f"DROP TABLE {quote(name)}")
                dropped.append(name)
        removed += QosMinute.objects.filter(meeting_ended_at__lt=cutoff)._raw_delete(
            QosMinute.objects.db)
        if meeting_ids:
            removed += QosSample.objects.filter(meeting_id__in=meeting_ids)._raw_delete(
                QosSample.objects.db)
            ZoomMeeting.objects.filter(pk__in=meeting_ids).update(qos_expired_at=now)
    return {"meetings": len(meeting_ids), "samples_removed": removed,
            "partitions_dropped": dropped, "cutoff": cutoff.isoformat()}


# --- moving rows of the former shape ---------------------------------------------------------

def legacy_remaining() -> int:
    return QosSample.objects.count()


def legacy_batch_move(*, batch: int, after_id: int = 0) -> tuple[int, int]:
    """Moves up to `batch` former rows with id > `after_id` into the compact table, in one
    transaction (insert, then delete the originals), so a stopped run resumes where it was.
    Returns (rows moved, last id moved; 0 when none were left)."""
    with transaction.atomic():
        rows = list(QosSample.objects.filter(pk__gt=after_id).order_by("pk")
                    .select_for_update(of=("self",))
                    .values_list("pk", "participant_id", "meeting_id", "sampled_at", "metrics",
                                 "cpu", "wifi", "unparsed")[:batch])
        if not rows:
            return 0, 0
        ends = dict(ZoomMeeting.objects.filter(pk__in={r[2] for r in rows})
                    .annotate(ended=Coalesce("end_time", "fetched_at"))
                    .values_list("pk", "ended"))
        by_end: dict = {}
        for _pk, pid, mid, at, metrics, cpu, wifi, unparsed in rows:
            ended = ends.get(mid) or at
            by_end.setdefault(ended, []).append((pid, mid, at, metrics, cpu, wifi, unparsed))
        for month in {_month_start(e) for e in by_end}:
            qos_partition_create(month=month)
        for ended, group in by_end.items():
            qos_samples_write(ended_at=ended, rows=group)
        QosSample.objects.filter(pk__in=[r[0] for r in rows])._raw_delete(QosSample.objects.db)
    return len(rows), rows[-1][0]
