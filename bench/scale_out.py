"""Benchmark 4, scale-out: one burst of ended meetings processed by 1, 2 and 4 worker processes.

Each run starts N separate Celery worker processes (`-P solo`, as N machines would run them),
has the sandbox end the same shape of burst (M meetings at once, each delivered to gunicorn as
a signed meeting.ended), and waits until every meeting's metrics are stored. Throughput is
meetings (and QoS samples) a second from the first end to the last stored meeting.

The rate limiter is shared through Redis, so more workers must not mean more calls a second:
the sandbox counts every arrival per account and category, and the "Heavy" dashboard calls must
never exceed its per-second limit in any 1-second window (max_per_second <= limit, and no
per-second 429). Baseline: the same pages fetched by one plain requests loop.
"""

from __future__ import annotations

import json
import time

from bench.common import ACCOUNT_ID, SECRETS, Stack, log
from bench.fetchonly import HEAVY_PER_SECOND, FetchOnly
from bench.stats import ratio

STRESS_LIMIT = 10
STRESS_BURST = (20, 20, 10)  # meetings, participants, minutes: 4 Heavy calls each


def _burst(stack: Stack, meetings: int, participants: int, minutes: int) -> list[str]:
    uuids = []
    for _ in range(meetings):
        ended = stack.sandbox_control("POST", "meetings/end", {
            "client_id": SECRETS["client_id"], "participants": participants,
            "minutes": minutes})
        uuids.append(ended["uuid"])
    return uuids


def _wait_all(uuids: list[str], timeout: float) -> tuple[dict, float]:
    from zoom_integration.models import ZoomMeeting

    deadline = time.monotonic() + timeout
    while True:
        statuses = dict(ZoomMeeting.objects.filter(uuid__in=uuids)
                        .values_list("uuid", "fetch_status"))
        finished = [u for u in uuids if statuses.get(u) in ("done", "failed", "skipped",
                                                             "parked")]
        if len(finished) == len(uuids) or time.monotonic() > deadline:
            return statuses, time.monotonic()
        time.sleep(0.1)


def run(*, quick: bool = False, profile: bool = True) -> dict:
    counts = [1, 2] if quick else [1, 2, 4]
    meetings, participants, minutes = (4, 5, 5) if quick else (40, 50, 30)
    with Stack("scale_out") as stack:
        schema = stack.database()
        stack.django()
        tenant = stack.tenant()
        gunicorn = stack.gunicorn(2)
        stack.start_sandbox(users=500, groups=5,
                            event_url=f"http://localhost:{gunicorn.extra['port']}/zoom/event")
        stack.connect_tenant(tenant)
        from zoom_integration.models import QosMinute, ZoomMeeting

        measured = []
        runs = [(n, None) for n in counts]
        if not quick:
            # The limit itself under pressure: more workers than a low limit allows. The
            # account's lower limit is told to the portal as ZOOM_RATE_LIMIT_OVERRIDES, as for
            # a customer whose limits Zoom changed.
            runs.append((4, STRESS_LIMIT))
        for n, limit in runs:
            if limit:
                stack.sandbox_control("POST", "config", {
                    "rate_limits": {"Heavy": {"per_second": limit}}})
                workers = stack.celery(n, env={"BENCH_RATE_LIMIT_OVERRIDES": json.dumps(
                    {"Heavy": {"per_second": limit}})})
                burst = STRESS_BURST
            else:
                workers = stack.celery(n)
                burst = (meetings, participants, minutes)
            limit = limit or HEAVY_PER_SECOND
            stack.sandbox_control("POST", "reset")
            started = time.monotonic()
            uuids = _burst(stack, *burst)
            statuses, finished = _wait_all(uuids, timeout=300)
            seconds = finished - started
            stats = stack.sandbox_control("GET", "stats")
            heavy = stats["rate_limits"].get(ACCOUNT_ID, {}).get("Heavy", {})
            ids = list(ZoomMeeting.objects.filter(uuid__in=uuids).values_list("pk", flat=True))
            samples = QosMinute.objects.filter(meeting_id__in=ids).count()
            done = sum(1 for s in statuses.values() if s == "done")
            row = {
                "workers": n, "meetings": burst[0], "participants": burst[1],
                "minutes": burst[2], "done": done,
                "statuses": {s: list(statuses.values()).count(s) for s in set(statuses.values())},
                "seconds": round(seconds, 2),
                "meetings_per_second": round(done / seconds, 2),
                "qos_samples": samples, "qos_samples_per_second": round(samples / seconds, 1),
                "heavy_calls": heavy.get("calls", 0),
                "heavy_max_per_second": heavy.get("max_per_second", 0),
                "heavy_rejected_qps": heavy.get("rejected_qps", 0),
                "heavy_limit_per_second": limit,
                "stress": limit != HEAVY_PER_SECOND,
                "limit_unbroken": heavy.get("max_per_second", 0) <= limit
                and heavy.get("rejected_qps", 0) == 0,
            }
            log(f"{n} worker(s): {done}/{burst[0]} meetings in {seconds:.2f} s "
                f"({row['meetings_per_second']}/s, {row['qos_samples_per_second']} samples/s); "
                f"Heavy calls {row['heavy_calls']}, max {row['heavy_max_per_second']}/s "
                f"(limit {limit}), 429s {row['heavy_rejected_qps']}")
            measured.append(row)
            stack.stop_celery(workers)

        stack.sandbox_control("POST", "config", {"rate_limits": {}})
        baseline_uuids = _burst(stack, meetings, participants, minutes)
        token = stack.sandbox_token()
        started = time.perf_counter()
        calls = 0
        fetcher = FetchOnly(stack.sandbox.url + "/v2", token)
        for uuid in baseline_uuids:
            calls = fetcher.meeting(uuid)["calls"]
        baseline = {"seconds": round(time.perf_counter() - started, 2), "calls": calls,
                    "meetings": len(baseline_uuids)}
        baseline["meetings_per_second"] = round(len(baseline_uuids) / baseline["seconds"], 2)
        one = measured[0]["meetings_per_second"] or None
        rows = []
        for m in measured:
            if m["stress"]:
                rows.append({
                    "figure": f"{m['workers']} worker processes, Heavy limit lowered to "
                              f"{m['heavy_limit_per_second']}/s: {m['meetings']} meetings × "
                              f"{m['participants']} participants × {m['minutes']} min",
                    "value": f"max {m['heavy_max_per_second']} Heavy calls in any 1 s, 429s "
                             f"{m['heavy_rejected_qps']} ({m['meetings_per_second']} meetings/s)",
                    "baseline": f"limit {m['heavy_limit_per_second']}/s",
                    "ratio": ratio(m["heavy_max_per_second"], m["heavy_limit_per_second"]),
                    "target": "<= limit, no 429", "met": m["limit_unbroken"]})
                continue
            rows.append({
                "figure": f"{m['workers']} worker process(es): {meetings} meetings × "
                          f"{participants} participants × {minutes} min",
                "value": f"{m['meetings_per_second']} meetings/s "
                         f"({m['qos_samples_per_second']:,.0f} samples/s, {m['seconds']} s)",
                "baseline": f"{baseline['meetings_per_second']} meetings/s fetch-only",
                "ratio": ratio(m["meetings_per_second"], baseline["meetings_per_second"]),
                "target": f"speed-up vs 1 worker: {ratio(m['meetings_per_second'], one)}",
            })
            rows.append({
                "figure": f"{m['workers']} worker process(es): Heavy calls in any 1 s window",
                "value": f"max {m['heavy_max_per_second']}, 429s {m['heavy_rejected_qps']}",
                "baseline": f"limit {HEAVY_PER_SECOND}/s", "ratio": ratio(
                    m["heavy_max_per_second"], HEAVY_PER_SECOND),
                "target": "<= limit, no 429", "met": m["limit_unbroken"],
            })
        return {
            "name": "scale_out", "rows": rows,
            "targets": [{
                "target": "the sandbox's per-account limit unbroken with every worker count",
                "value": ", ".join(f"{m['workers']}: max {m['heavy_max_per_second']}/s of "
                                   f"{m['heavy_limit_per_second']}" for m in measured),
                "met": all(m["limit_unbroken"] for m in measured)
                and all(m["done"] == m["meetings"] for m in measured),
            }],
            "figures": {"schema": schema, "runs": measured, "fetch_only": baseline,
                        "burst": {"meetings": meetings, "participants": participants,
                                  "minutes": minutes}},
        }
