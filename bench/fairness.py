"""Benchmark 5, fairness: one tenant's bulk work must not starve another tenant's meetings.

Two customers, each with its own Zoom account in the sandbox (so Zoom's per-account rate limits
do not couple them; only the portal's workers are shared). Tenant B ends small meetings one
after another; the figure is B's delay from "meeting ended" (the sandbox sends the signed
`meeting.ended`) to the meeting's metrics stored (`fetch_status = done`), p50 and p95.

- **Baseline:** B alone.
- **Measured:** the same while tenant A runs a full directory sync of USERS users and has
  A_MEETINGS larger meetings ended at once, ahead of B's.
- **For comparison:** the same with fair sharing off (`ZOOM_FAIR_SHARING=0`: no per-tenant
  cap, no backlog priorities), i.e. plain first-come-first-served queues.

WORKERS separate worker processes (`-P solo`) consume every queue, as a small deployment would.
Target: B's p95 with A busy within 2x of B alone, in the same run.
"""

from __future__ import annotations

import statistics
import threading
import time

from bench.common import Stack, log, peak_rss_mib
from bench.stats import ratio

WORKERS = 3
TARGET_RATIO = 2.0
B_SLUG = "benchb"
B_HOST = "127.0.0.1"  # B's deliveries reach gunicorn with this Host
B_APP = {"client_id": "benchClientB00001", "client_secret": "benchClientSecretB000000001",
         "secret_token": "benchSecretTokenB00000001", "account_id": "benchAccountB00000000001"}


def _sizes(quick: bool) -> dict:
    if quick:
        return {"users": 2_000, "a_meetings": 10, "a_participants": 20, "a_minutes": 10,
                "b_meetings": 4, "b_participants": 5, "b_minutes": 5, "b_interval": 0.5}
    return {"users": 100_000, "a_meetings": 200, "a_participants": 20, "a_minutes": 30,
            "b_meetings": 20, "b_participants": 10, "b_minutes": 10, "b_interval": 1.0}


def _tenant_b(stack: Stack, port: int):
    from tenants.models import Tenant
    from tenants.services import tenant_upsert

    tenant, _ = tenant_upsert(slug=B_SLUG, name="Benchmark customer B", domains=(B_HOST,),
                              primary_domain=B_HOST, credentials={
                                  k: B_APP[k] for k in ("client_id", "client_secret",
                                                        "secret_token")})
    Tenant.objects.filter(pk=tenant.pk).update(zoom_account_id=B_APP["account_id"])
    tenant.refresh_from_db()
    return tenant


def _end(stack: Stack, client_id: str, participants: int, minutes: int) -> str:
    return stack.sandbox_control("POST", "meetings/end", {
        "client_id": client_id, "participants": participants, "minutes": minutes})["uuid"]


def _watch(uuids_at: dict[str, float], stop: threading.Event, done_at: dict[str, float]) -> None:
    """Notes when each watched meeting is first seen stored (polling every 50 ms)."""
    from django.db import connection

    from zoom_integration.models import ZoomMeeting

    try:
        while not stop.is_set():
            waiting = [u for u in list(uuids_at) if u not in done_at]
            if waiting:
                now = time.monotonic()
                for uuid in ZoomMeeting.objects.filter(uuid__in=waiting, fetch_status="done") \
                        .values_list("uuid", flat=True):
                    done_at[uuid] = now
            time.sleep(0.05)
    finally:
        connection.close()


def _phase(stack: Stack, name: str, tenant_a, sizes: dict, *, with_a: bool) -> dict:
    from zoom_integration import queueing
    from zoom_integration.models import ZoomMeeting

    ended_b: dict[str, float] = {}
    ended_wall: dict[str, float] = {}
    done_b: dict[str, float] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(ended_b, stop, done_b), daemon=True)
    watcher.start()
    a_uuids: list[str] = []
    started = time.monotonic()
    if with_a:
        queueing.directory_sync_enqueue(tenant_id=tenant_a.pk)
        for _ in range(sizes["a_meetings"]):
            a_uuids.append(_end(stack, "benchClient000001", sizes["a_participants"],
                                sizes["a_minutes"]))
        time.sleep(0.5)  # A's work is queued ahead of B's
    for _ in range(sizes["b_meetings"]):
        uuid = _end(stack, B_APP["client_id"], sizes["b_participants"], sizes["b_minutes"])
        ended_b[uuid] = time.monotonic()
        ended_wall[uuid] = time.time()
        time.sleep(sizes["b_interval"])
    deadline = time.monotonic() + 600
    while len(done_b) < len(ended_b) and time.monotonic() < deadline:
        time.sleep(0.1)
    b_finished = time.monotonic()
    # A's work finishes before the next phase starts, so phases do not overlap.
    while with_a and time.monotonic() < deadline:
        left = ZoomMeeting.objects.filter(uuid__in=a_uuids).exclude(
            fetch_status__in=("done", "failed", "skipped", "parked")).count()
        have = ZoomMeeting.objects.filter(uuid__in=a_uuids).count()
        if not left and have == len(a_uuids):
            break
        time.sleep(0.5)
    stop.set()
    watcher.join(5)
    delays = sorted(done_b[u] - ended_b[u] for u in ended_b if u in done_b)
    # Where B's time goes: ended -> recorded (the signed delivery sent, stored, queued by the
    # outbox and processed by a worker) and recorded -> stored (the fetch queued, taken by a
    # worker, Zoom's pages fetched and stored).
    stamps = ZoomMeeting.objects.filter(uuid__in=list(done_b)).values_list(
        "uuid", "ended_event_at", "fetched_at")
    to_recorded = [e.timestamp() - ended_wall[u] for u, e, _f in stamps if e]
    to_stored = [f.timestamp() - e.timestamp() for _u, e, f in stamps if e and f]
    result = {
        "phase": name, "with_a": with_a, "b_meetings": len(ended_b), "b_done": len(done_b),
        "b_delay_p50_s": round(statistics.median(delays), 3) if delays else None,
        "b_delay_p95_s": round(_p95(delays), 3) if delays else None,
        "b_delay_max_s": round(max(delays), 3) if delays else None,
        "b_delays_s": [round(d, 3) for d in delays],
        "b_to_recorded_p50_s": round(statistics.median(to_recorded), 3) if to_recorded else None,
        "b_recorded_to_stored_p50_s": (round(statistics.median(to_stored), 3) if to_stored
                                       else None),
        "b_seconds": round(b_finished - started, 2),
        "a_meetings": len(a_uuids),
        "a_done": ZoomMeeting.objects.filter(uuid__in=a_uuids, fetch_status="done").count(),
        "a_seconds": round(time.monotonic() - started, 2),
    }
    log(f"fairness {name}: B p50 {result['b_delay_p50_s']} s p95 {result['b_delay_p95_s']} s "
        f"(p50 ended -> recorded {result['b_to_recorded_p50_s']} s, recorded -> stored "
        f"{result['b_recorded_to_stored_p50_s']} s) "
        f"({result['b_done']}/{result['b_meetings']} done); A {result['a_done']}/"
        f"{result['a_meetings']} meetings in {result['a_seconds']} s")
    return result


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(0.95 * (len(ordered) - 1))))
    return ordered[index]


def run(*, quick: bool = False, profile: bool = True) -> dict:
    sizes = _sizes(quick)
    with Stack("fairness") as stack:
        schema = stack.database()
        stack.django()
        tenant_a = stack.tenant()
        gunicorn = stack.gunicorn(2)
        port = gunicorn.extra["port"]
        tenant_b = _tenant_b(stack, port)
        stack.start_sandbox(
            users=sizes["users"], groups=5, event_url=f"http://localhost:{port}/zoom/event",
            extra_apps=[{**B_APP, "redirect_uri": f"http://{B_HOST}/adminapi/zoom/oauth/authorize",
                         "event_url": f"http://{B_HOST}:{port}/zoom/event"}])
        stack.connect_tenant(tenant_a)
        stack.connect_tenant(tenant_b, client_id=B_APP["client_id"])

        phases = []
        workers = stack.celery(WORKERS)
        phases.append(_phase(stack, "B alone", tenant_a, sizes, with_a=False))
        phases.append(_phase(stack, "B while A syncs and fetches (fair sharing on)", tenant_a,
                             sizes, with_a=True))
        rss_capped = [peak_rss_mib(w.pid) for w in workers]
        stack.stop_celery(workers)
        workers = stack.celery(WORKERS, env={"ZOOM_FAIR_SHARING": "0"})
        phases.append(_phase(stack, "B while A syncs and fetches (fair sharing off: FIFO)",
                             tenant_a, sizes, with_a=True))
        stack.stop_celery(workers)

    alone, fair, fifo = phases
    fair_ratio = ratio(fair["b_delay_p95_s"], alone["b_delay_p95_s"])
    fifo_ratio = ratio(fifo["b_delay_p95_s"], alone["b_delay_p95_s"])
    work = (f"A: {sizes['users']:,}-user sync + {sizes['a_meetings']} meetings × "
            f"{sizes['a_participants']} participants × {sizes['a_minutes']} min; B: "
            f"{sizes['b_meetings']} meetings × {sizes['b_participants']} × {sizes['b_minutes']}"
            f" min, one every {sizes['b_interval']} s; {WORKERS} worker processes")
    rows = [
        {"figure": f"B's delay ended → stored, p95, while A is busy, fair sharing on ({work})",
         "value": f"{fair['b_delay_p95_s']} s (p50 {fair['b_delay_p50_s']} s)",
         "baseline": f"{alone['b_delay_p95_s']} s (p50 {alone['b_delay_p50_s']} s), B alone",
         "ratio": fair_ratio, "target": f"<= {TARGET_RATIO}x B alone",
         "met": fair_ratio is not None and fair_ratio <= TARGET_RATIO
         and fair["b_done"] == fair["b_meetings"]},
        {"figure": "where B's time goes, p50: ended → recorded (delivery stored, queued, "
                   "processed) / recorded → stored (fetch queued, fetched, stored)",
         "value": f"{fair['b_to_recorded_p50_s']} s / {fair['b_recorded_to_stored_p50_s']} s"
                  " while A is busy",
         "baseline": f"{alone['b_to_recorded_p50_s']} s / "
                     f"{alone['b_recorded_to_stored_p50_s']} s, B alone",
         "ratio": None, "target": "", "met": None},
        {"figure": "the same with fair sharing off (first come, first served)",
         "value": f"{fifo['b_delay_p95_s']} s (p50 {fifo['b_delay_p50_s']} s)",
         "baseline": f"{alone['b_delay_p95_s']} s, B alone", "ratio": fifo_ratio,
         "target": "", "met": None},
        {"figure": "A's work finished (fair sharing on / off)",
         "value": f"{fair['a_done']}/{fair['a_meetings']} meetings in {fair['a_seconds']} s / "
                  f"{fifo['a_done']}/{fifo['a_meetings']} in {fifo['a_seconds']} s",
         "baseline": "", "ratio": ratio(fair["a_seconds"], fifo["a_seconds"]),
         "target": "", "met": None},
        {"figure": "peak RSS of each worker process over B alone + the capped run "
                   f"(incl. the {sizes['users']:,}-user sync)",
         "value": ", ".join(f"{v} MiB" for v in rss_capped), "baseline": "", "ratio": None,
         "target": "", "met": None},
    ]
    return {
        "name": "fairness", "rows": rows,
        "targets": [{"target": f"B's p95 within {TARGET_RATIO}x of B alone while A is busy",
                     "value": f"{fair_ratio}", "met": rows[0]["met"]}],
        "figures": {"schema": schema, "sizes": sizes, "workers": WORKERS, "phases": phases,
                    "worker_peak_rss_mib": rss_capped},
    }
