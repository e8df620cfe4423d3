"""Benchmark 7, per-minute QoS storage: bytes per participant-minute and the meeting page.

One 1,000-participant, 60-minute meeting's samples (60,000 participant-minutes, values drawn by
the sandbox's `qos_sample_draw` from one seeded generator and parsed by `quality.sample_parse`)
are stored twice in the same throwaway database: in the former JSON shape (`QosSample`, by the
COPY the portal used) for meeting A and in the compact shape (`qos_store.qos_samples_write`) for
meeting B. Reported:

- bytes per participant-minute on disk, indexes included: `pg_total_relation_size` of the
  table (for the compact one, summed over its partitions) before and after, divided by the rows;
  target at most 300 bytes. Baseline: the former shape.
- the meeting page (the admin's change view, through Django's test client, as staff open it:
  its first page of people, poor calls first) of each meeting, median of several renders.
  Target: the same time or better than the former read path (meeting A is read from the
  former table by `qos_store`'s fallback, which decodes every row).
- one person's page (their sessions, summaries and per-minute charts) in each meeting.
- the time to store the rows in each shape.

Only PostgreSQL is needed (no gunicorn, worker or sandbox); the measuring runs in a child
process (`python -m bench.qos_storage` with a JSON spec on stdin).
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time

from bench.common import Stack, log, run_child
from bench.stats import ratio
from zoom_sandbox.world import qos_sample_draw

TARGET_BYTES = 300
PAGE_RENDERS = 5


def _size(cursor, table: str, partitioned: bool) -> int:
    if partitioned:
        cursor.execute("SELECT coalesce(sum(pg_total_relation_size(relid)), 0) "
                       "FROM pg_partition_tree(%s::regclass)", [table])
    else:
        cursor.execute("SELECT pg_total_relation_size(%s::regclass)", [table])
    return int(cursor.fetchone()[0])


def _legacy_copy(rows: list[tuple]) -> None:
    """The former write path, as it was: COPY of four JSON columns per row."""
    from django.db import connection

    from zoom_integration.models import QosSample

    dumps = json.dumps
    columns = "participant_id, meeting_id, sampled_at, metrics, cpu, wifi, unparsed"
    with connection.cursor() as cursor, cursor.cursor.copy(
            f"COPY {QosSample._meta.db_table} ({columns}) FROM STDIN") as copy:
        for pid, mid, at, metrics, cpu, wifi, unparsed in rows:
            copy.write_row((pid, mid, at, dumps(metrics), dumps(cpu), dumps(wifi),
                            dumps(unparsed)))


def child(spec: dict) -> dict:
    """In the child: store one meeting's samples in both shapes, measure size and page."""
    import datetime as dt

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.test import Client
    from django.utils import timezone

    from tenants.models import Tenant
    from zoom_integration import qos_store
    from zoom_integration.models import ZoomMeeting, ZoomMeetingPerson, ZoomParticipant
    from zoom_integration.quality import (
        DEFAULT_THRESHOLDS,
        SummaryAccumulator,
        participant_classify,
        sample_parse,
    )

    people, minutes = spec["participants"], spec["minutes"]
    r = random.Random(5)
    tenant, _ = Tenant.objects.get_or_create(slug="qosbench", defaults={"name": "QoS bench"})
    end = timezone.now().replace(second=0, microsecond=0) - dt.timedelta(hours=1)
    start = end - dt.timedelta(minutes=minutes)
    meetings = [ZoomMeeting.objects.create(
        tenant=tenant, uuid=f"qosbench-{label}", topic=f"QoS storage {label}", start_time=start,
        end_time=end, fetch_status="done", participants_count=people,
        qos_samples=people * minutes) for label in ("former", "compact")]
    # The same people and samples for both meetings.
    drawn = []
    for i in range(people):
        poor, camera, sharing = r.random() < 0.1, r.random() < 0.7, i == 0
        # The sandbox's drawing, from this one generator: the same values run after run.
        samples = [sample_parse(qos_sample_draw(
            r, (start + dt.timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            poor=poor, camera=camera, sharing=sharing)) for m in range(minutes)]
        drawn.append(samples)
    rows_by_meeting = {}
    for meeting in meetings:
        people_rows, parts = [], []
        for i, samples in enumerate(drawn):
            acc = SummaryAccumulator()
            for s in samples:
                acc.add(s.metrics)
            summaries = acc.summaries()
            result = participant_classify(summaries, DEFAULT_THRESHOLDS)
            people_rows.append(ZoomMeetingPerson(
                meeting=meeting, position=i, identity_kind="session", identity_key=f"person {i}",
                display_name=f"Person {i}", sessions_count=1, quality=result.quality,
                quality_reason=result.reason_text, mos=result.mos, stream_summaries=summaries))
        ZoomMeetingPerson.objects.bulk_create(people_rows, batch_size=1000)
        for i, person in enumerate(people_rows):
            parts.append(ZoomParticipant(
                meeting=meeting, person=person, position=i, user_name=f"Person {i}",
                device="Mac", network_type="Wifi"))
        ZoomParticipant.objects.bulk_create(parts, batch_size=1000)
        rows_by_meeting[meeting.pk] = [
            (p.pk, meeting.pk, dt.datetime.fromisoformat(s.sampled_at.replace("Z", "+00:00")),
             s.metrics, s.cpu, s.wifi, s.unparsed)
            for p, samples in zip(parts, drawn, strict=True) for s in samples]
    former, compact = meetings
    n = people * minutes
    with connection.cursor() as cursor:
        before_old = _size(cursor, "zoom_integration_qossample", False)
        before_new = _size(cursor, qos_store.TABLE, qos_store.is_partitioned())
    started = time.perf_counter()
    with transaction.atomic():
        rows = rows_by_meeting[former.pk]
        for i in range(0, n, 2000):
            _legacy_copy(rows[i:i + 2000])
    write_old = time.perf_counter() - started
    started = time.perf_counter()
    with transaction.atomic():
        rows = rows_by_meeting[compact.pk]
        for i in range(0, n, 2000):
            qos_store.qos_samples_write(ended_at=end, rows=rows[i:i + 2000])
    write_new = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE zoom_integration_qossample")
        cursor.execute(f"ANALYZE {qos_store.TABLE}")
        after_old = _size(cursor, "zoom_integration_qossample", False)
        after_new = _size(cursor, qos_store.TABLE, qos_store.is_partitioned())
        cursor.execute("SELECT count(*) FROM zoom_integration_qosminute WHERE extra IS NOT NULL")
        with_extra = cursor.fetchone()[0]

    # The page as a signed-in superuser sees it; the second factor is not what is measured.
    settings.PORTAL_SUPERUSER_OTP_REQUIRED = False
    settings.PORTAL_ADMIN_OTP = False
    user = get_user_model().objects.create_superuser("qosbench", "qosbench@example.com", "x")
    client = Client()
    client.force_login(user)

    # One person's own page: the first poor person to join (the same one in both meetings).
    person_of = {m.pk: ZoomMeetingPerson.objects.filter(meeting=m, quality="poor")
                 .order_by("position").values_list("pk", flat=True).first() for m in meetings}

    def render(meeting, person: bool = False) -> float:
        # The meeting page as staff open it (its first page of people, poor calls first), or
        # one person's page. A staff host (the tenants' hosts serve no admin).
        url = f"/admin/zoom_integration/zoommeeting/{meeting.pk}/change/"
        if person:
            url = (f"/admin/zoom_integration/zoommeeting/{meeting.pk}/person/"
                   f"?person={person_of[meeting.pk]}")
        started = time.perf_counter()
        response = client.get(url, HTTP_HOST="127.0.0.1")
        took = time.perf_counter() - started
        if response.status_code != 200 or b'class="qos-chart"' not in response.content:
            raise RuntimeError(f"{url}: {response.status_code}")
        return took

    for meeting in (former, compact):  # warm caches (templates, the first query plans)
        render(meeting), render(meeting, person=True)
    old_times, new_times, old_person, new_person = [], [], [], []
    for _ in range(spec["renders"]):  # interleaved, so load changes hit both alike
        old_times.append(render(former))
        new_times.append(render(compact))
        old_person.append(render(former, person=True))
        new_person.append(render(compact, person=True))
    return {
        "rows": n, "participants": people, "minutes": minutes,
        "bytes_former": after_old - before_old, "bytes_compact": after_new - before_new,
        "per_row_former": round((after_old - before_old) / n, 1),
        "per_row_compact": round((after_new - before_new) / n, 1),
        "rows_with_extra": with_extra,
        "write_seconds_former": round(write_old, 3), "write_seconds_compact": round(write_new, 3),
        "page_seconds_former": round(statistics.median(old_times), 3),
        "page_seconds_compact": round(statistics.median(new_times), 3),
        "page_times_former": [round(t, 3) for t in old_times],
        "page_times_compact": [round(t, 3) for t in new_times],
        "person_seconds_former": round(statistics.median(old_person), 3),
        "person_seconds_compact": round(statistics.median(new_person), 3),
    }


def run(*, quick: bool = False, profile: bool = True) -> dict:
    spec = ({"participants": 100, "minutes": 30, "renders": 2} if quick
            else {"participants": 1000, "minutes": 60, "renders": PAGE_RENDERS})
    with Stack("qos_storage") as stack:
        schema = stack.database()
        log(f"qos_storage: {spec['participants']} participants × {spec['minutes']} min "
            f"(schema from {schema})")
        m = run_child("bench.qos_storage", spec, env=stack.env, timeout=900)
    size = f"{m['participants']:,} participants × {m['minutes']} min ({m['rows']:,} rows)"
    rows = [
        {"figure": f"bytes per participant-minute on disk, indexes included: {size}",
         "value": f"{m['per_row_compact']:g} B compact ({m['rows_with_extra']} rows use extra)",
         "baseline": f"{m['per_row_former']:g} B former JSON shape",
         "ratio": ratio(m["per_row_compact"], m["per_row_former"]),
         "target": f"<= {TARGET_BYTES} B", "met": m["per_row_compact"] <= TARGET_BYTES},
        {"figure": f"meeting page (staff view, first page of people, median of "
                   f"{spec['renders']}): {size}",
         "value": f"{m['page_seconds_compact']} s compact",
         "baseline": f"{m['page_seconds_former']} s former read path",
         "ratio": ratio(m["page_seconds_compact"], m["page_seconds_former"]),
         "target": "same or better", "met": m["page_seconds_compact"]
         <= m["page_seconds_former"] * 1.05},
        {"figure": f"a person's page (sessions, summaries, per-minute charts; median of "
                   f"{spec['renders']}): one of {size}",
         "value": f"{m['person_seconds_compact']} s compact",
         "baseline": f"{m['person_seconds_former']} s former read path",
         "ratio": ratio(m["person_seconds_compact"], m["person_seconds_former"]),
         "target": None, "met": None},
        {"figure": f"storing the samples (COPY, one transaction): {size}",
         "value": f"{m['write_seconds_compact']} s compact",
         "baseline": f"{m['write_seconds_former']} s former JSON shape",
         "ratio": ratio(m["write_seconds_compact"], m["write_seconds_former"]),
         "target": None, "met": None},
    ]
    for row in rows:
        log(f"qos_storage: {row['figure']}: {row['value']} vs {row['baseline']}")
    return {"name": "qos_storage", "rows": rows, "figures": {"schema": schema, **m}}


if __name__ == "__main__":
    print(json.dumps(child(json.loads(sys.stdin.read()))))
