"""Benchmark 1, webhook ingest: signed meeting.ended deliveries at stepped constant rates.

Target: 500 verified deliveries a second sustained, p99 answer under 100 ms, each
stored exactly once. Baseline: `GET /healthz` under the same generator, same gunicorn, same run:
what the stack (gunicorn + Django middleware + the generator on the same two cores) costs before
the receiver does anything.

A separate load process (bench.loadgen) sends each step; the rate steps up until a step is not
sustained (p99 > 100 ms, a non-2xx, or the generator could not keep the rate). No Celery worker
runs here: the receiver's job ends at "stored and queued"; processing is benchmark 2 and 4.
"""

from __future__ import annotations

import os
import time
import uuid

from bench.common import TENANT_HOST, Stack, log, run_child
from bench.stats import highest_sustained, marginal_cost, rate_steps, ratio, step_ok

P99_LIMIT_MS = 100.0
TARGET_RATE = 500.0
# A failed step is tried again when other processes used more than this share of the CPUs.
BUSY_OTHERS_SHARE = 0.25
MAX_BUSY_RETRIES = 3
WEBHOOK_PATH = "/zoom/event"
# The closed loop of the outside run: 12 clients, gunicorn with 3 sync workers.
CLOSED_CLIENTS = 12
CLOSED_WORKERS = 3
TARGET_RATIO = 0.5  # of /healthz's rate, open and closed loop


def _steps(stack: Stack, gunicorn, kind: str, rates: list[float], duration: float,
           tenant=None) -> list[dict]:
    from zoom_integration.models import ZoomWebhookDelivery

    spec_base = {"host": "127.0.0.1", "port": gunicorn.extra["port"], "host_header": TENANT_HOST,
                 "kind": kind, "path": WEBHOOK_PATH if kind == "webhook" else "/healthz",
                 "duration": duration, "timeout": 10.0}
    if kind == "webhook":
        spec_base.update(secret_token=tenant.secret_token, account_id=tenant.zoom_account_id)
    results = []
    retries = 0
    queue = list(rates)
    while queue:
        rate = queue.pop(0)
        before = ZoomWebhookDelivery.objects.count() if kind == "webhook" else 0
        spec = {**spec_base, "rate": rate, "uuid_prefix": uuid.uuid4().hex[:10]}
        meter = stack.cpu_meter()
        meter.start()
        result = run_child("bench.loadgen", spec, env=stack.env)
        result["cpu"] = meter.stop(extra_cpu_seconds=result.get("generator_cpu_seconds", 0))
        # CPU per request of everything serving it (gunicorn, PostgreSQL, the generator): the
        # figure other people's load on the machine does not change much.
        result["cpu_ms_per_request"] = round(
            result["cpu"]["ours_cpu_seconds"] * 1000 / max(1, result["sent"]), 3)
        if kind == "webhook":
            time.sleep(0.5)  # a request the generator gave up on may still commit
            result["stored"] = ZoomWebhookDelivery.objects.count() - before
            result["stored_equals_sent"] = result["stored"] == result["sent"]
        result["sustained"] = step_ok(result, p99_limit_ms=P99_LIMIT_MS) and (
            kind != "webhook" or result["stored_equals_sent"])
        lat = result["latency_ms"]
        log(f"{kind:8s} {rate:7.0f}/s: ok {result['ok']}/{result['sent']} p50 {lat['p50']} ms "
            f"p99 {lat['p99']} ms sent at {result['achieved_send_rate']}/s"
            + (f" stored {result['stored']}" if kind == "webhook" else "")
            + (" [generator saturated]" if result["generator_saturated"] else "")
            + f"; CPUs {result['cpu']['machine_busy']:.0%} busy, "
              f"{result['cpu']['others']:.0%} by others"
            + ("" if result["sustained"] else f"; p99 by second {result['p99_by_second_ms']}"))
        results.append(result)
        if not result["sustained"]:
            # Other people's work on the machine can sink one step; try it again (a bounded
            # number of times per run) before calling it the knee. Every try stays in the JSON.
            if result["cpu"]["others"] > BUSY_OTHERS_SHARE and retries < MAX_BUSY_RETRIES:
                retries += 1
                result["retried_because_busy"] = True
                log(f"{kind:8s} {rate:7.0f}/s: other processes took "
                    f"{result['cpu']['others']:.0%} of the CPUs; trying this step again")
                queue.insert(0, rate)
                time.sleep(3.0)
                continue
            break
        time.sleep(1.0)
    return results


def _best(steps: list[dict]) -> dict | None:
    """The highest step of the unbroken run of sustained steps (stats.highest_sustained, plus
    the ingest's own condition: stored rows = sent)."""
    held = []
    for step in steps:
        if step.get("retried_because_busy"):
            continue
        if not step["sustained"]:
            break
        held.append(step)
    return highest_sustained(held, p99_limit_ms=P99_LIMIT_MS)


def _cpu_ms_per_request(steps: list[dict]) -> float | None:
    points = [(s["sent"], s["cpu"]["ours_cpu_seconds"]) for s in steps
              if s.get("ok") == s.get("sent") and s.get("cpu")]
    cost = marginal_cost(points)
    return round(cost * 1000, 3) if cost and cost > 0 else None


def _cpu_split(steps: list[dict]) -> dict:
    """CPU per request by process kind (gunicorn, postgres, generator, ...), by slope."""
    labels = {k for s in steps if s.get("cpu") for k in s["cpu"]["cpu_seconds_by_process"]}
    out = {}
    for label in sorted(labels):
        cost = marginal_cost([(s["sent"], s["cpu"]["cpu_seconds_by_process"].get(label, 0.0))
                              for s in steps if s.get("ok") == s.get("sent") and s.get("cpu")])
        out[label] = round(cost * 1000, 3) if cost is not None else None
    return out


def _at(steps: list[dict], rate: float) -> dict | None:
    """The step at `rate` (the sustained try when it was tried more than once)."""
    tries = [s for s in steps if s["rate"] == rate]
    return next((s for s in tries if s["sustained"]), tries[-1] if tries else None)


def _profile_at(stack: Stack, gunicorn, rate: float, tenant, seconds: float) -> dict:
    from bench.profiling import pyspy_finish, pyspy_start

    proc, out = pyspy_start(gunicorn.pid, seconds, "webhook_ingest")
    time.sleep(0.5)
    spec = {"host": "127.0.0.1", "port": gunicorn.extra["port"], "host_header": TENANT_HOST,
            "kind": "webhook", "path": WEBHOOK_PATH, "duration": seconds - 1, "rate": rate,
            "secret_token": tenant.secret_token, "account_id": tenant.zoom_account_id,
            "uuid_prefix": uuid.uuid4().hex[:10]}
    run_child("bench.loadgen", spec, env=stack.env)
    return {"rate": rate, **pyspy_finish(proc, out)}


def _sequential_cost(tenant, count: int) -> dict:
    """Milliseconds per request, one at a time, in this process (Django's test client through
    the full middleware stack): the receiver's own cost without queueing or the generator."""
    from django.test import Client

    from bench.loadgen import meeting_ended_event
    from bench.zoomsig import compact_json, signed_webhook_headers

    client = Client(HTTP_HOST=TENANT_HOST)
    prefix = uuid.uuid4().hex[:10]

    def deliver(n: int) -> None:
        body = compact_json(meeting_ended_event(account_id=tenant.zoom_account_id,
                                                meeting_uuid=f"{prefix}{n:08d}seq==", n=n,
                                                event_ts=n))
        answer = client.post(WEBHOOK_PATH, data=body, content_type="application/json",
                             headers=signed_webhook_headers(tenant.secret_token, body))
        if answer.status_code != 200:
            raise RuntimeError(f"in-process delivery answered {answer.status_code}")

    def timed(func) -> float:
        for n in range(20):
            func(n)
        started = time.perf_counter()
        for n in range(20, 20 + count):
            func(n)
        return round((time.perf_counter() - started) / count * 1000, 3)

    webhook = timed(deliver)
    healthz = timed(lambda n: client.get("/healthz"))
    return {"webhook_ms": webhook, "healthz_ms": healthz, "requests": count}


def _closed_loop(stack: Stack, tenant, *, duration: float, rounds: int) -> dict:
    """Closed loop, as the outside run measured it: CLOSED_CLIENTS clients against gunicorn with
    CLOSED_WORKERS sync workers, `/healthz` and the receiver alternately, `rounds` times each,
    on the same gunicorn."""
    from zoom_integration.models import ZoomWebhookDelivery

    gunicorn = stack.gunicorn(CLOSED_WORKERS)
    base = {"host": "127.0.0.1", "port": gunicorn.extra["port"], "host_header": TENANT_HOST,
            "mode": "closed", "clients": CLOSED_CLIENTS, "timeout": 10.0,
            "secret_token": tenant.secret_token, "account_id": tenant.zoom_account_id}
    paths = {"healthz": "/healthz", "webhook": WEBHOOK_PATH}
    for kind, path in paths.items():  # warm every worker up
        run_child("bench.loadgen", {**base, "kind": kind, "path": path, "duration": 2,
                                    "uuid_prefix": uuid.uuid4().hex[:10]}, env=stack.env)
    runs: dict[str, list[dict]] = {"healthz": [], "webhook": []}
    for _ in range(rounds):
        for kind, path in paths.items():
            before = ZoomWebhookDelivery.objects.count()
            meter = stack.cpu_meter()
            meter.start()
            result = run_child("bench.loadgen", {**base, "kind": kind, "path": path,
                                                 "duration": duration,
                                                 "uuid_prefix": uuid.uuid4().hex[:10]},
                               env=stack.env)
            result["cpu"] = meter.stop(extra_cpu_seconds=result.get("generator_cpu_seconds", 0))
            result["cpu_ms_per_request"] = round(
                result["cpu"]["ours_cpu_seconds"] * 1000 / max(1, result["answered"]), 3)
            if kind == "webhook":
                time.sleep(0.5)
                result["stored"] = ZoomWebhookDelivery.objects.count() - before
            lat = result["latency_ms"]
            log(f"closed {kind:8s} {CLOSED_CLIENTS} clients: {result['throughput_per_second']}/s "
                f"p50 {lat['p50']} ms p99 {lat['p99']} ms ok {result['ok']}/{result['sent']}"
                + (f" stored {result['stored']}" if kind == "webhook" else "")
                + f"; CPU {result['cpu_ms_per_request']} ms/request, "
                  f"{result['cpu']['others']:.0%} of the CPUs used by others")
            runs[kind].append(result)
    gunicorn.stop()

    def mean(kind: str, key) -> float:
        values = [key(r) for r in runs[kind]]
        return round(sum(values) / len(values), 3)

    webhook_ok = sum(r["ok"] for r in runs["webhook"])
    webhook_sent = sum(r["sent"] for r in runs["webhook"])
    stored = sum(r["stored"] for r in runs["webhook"])
    return {
        "clients": CLOSED_CLIENTS, "gunicorn_workers": CLOSED_WORKERS, "rounds": rounds,
        "seconds_each": duration,
        "webhook_per_second": mean("webhook", lambda r: r["throughput_per_second"]),
        "healthz_per_second": mean("healthz", lambda r: r["throughput_per_second"]),
        "ratio_each_round": [ratio(w["throughput_per_second"], h["throughput_per_second"])
                             for w, h in zip(runs["webhook"], runs["healthz"], strict=True)],
        "webhook_p50_ms": max(r["latency_ms"]["p50"] for r in runs["webhook"]),
        "webhook_p99_ms": max(r["latency_ms"]["p99"] for r in runs["webhook"]),
        "healthz_p50_ms": max(r["latency_ms"]["p50"] for r in runs["healthz"]),
        "healthz_p99_ms": max(r["latency_ms"]["p99"] for r in runs["healthz"]),
        "webhook_cpu_ms": mean("webhook", lambda r: r["cpu_ms_per_request"]),
        "healthz_cpu_ms": mean("healthz", lambda r: r["cpu_ms_per_request"]),
        "webhook_ok": webhook_ok, "webhook_sent": webhook_sent, "stored": stored,
        "stored_equals_ok": stored == webhook_ok and webhook_ok == webhook_sent,
        "others_share": [r["cpu"]["others"] for k in runs for r in runs[k]],
        "runs": runs,
    }


def run(*, quick: bool = False, gunicorn_workers: int | None = None,
        profile: bool = True) -> dict:
    workers = gunicorn_workers or int(os.environ.get("BENCH_GUNICORN_WORKERS") or 0) or (
        2 if quick else 4)
    duration = 1.5 if quick else 6.0
    rates = [50.0, 100.0] if quick else rate_steps(100, 3000)
    with Stack("webhook_ingest") as stack:
        schema = stack.database()
        stack.django()
        tenant = stack.tenant()
        worker_class = os.environ.get("BENCH_GUNICORN_CLASS") or "sync"
        gunicorn = stack.gunicorn(workers, worker_class=worker_class,
                                  threads=4 if worker_class == "gthread" else 1)
        # Warm-up before each kind: every worker has imported its views and opened its
        # database and broker connections before the clock starts.
        warm = {"host": "127.0.0.1", "port": gunicorn.extra["port"], "host_header": TENANT_HOST,
                "rate": 50, "duration": 2, "secret_token": tenant.secret_token,
                "account_id": tenant.zoom_account_id}
        run_child("bench.loadgen", {**warm, "kind": "healthz", "path": "/healthz"},
                  env=stack.env)
        from zoom_integration.models import ZoomWebhookDelivery

        baseline = _steps(stack, gunicorn, "healthz", rates, duration)
        run_child("bench.loadgen", {**warm, "kind": "webhook", "path": WEBHOOK_PATH},
                  env=stack.env)
        warm_rows = ZoomWebhookDelivery.objects.count()
        webhook = _steps(stack, gunicorn, "webhook", rates, duration, tenant)
        total_sent = sum(s["sent"] for s in webhook)
        total_stored = ZoomWebhookDelivery.objects.count() - warm_rows
        sequential = _sequential_cost(tenant, 50 if quick else 300)
        best_w, best_h = _best(webhook), _best(baseline)
        profile_result = None
        rate_w = best_w["rate"] if best_w else 0.0
        if profile and not quick and (rate_w < TARGET_RATE or not best_w
                                      or best_w["latency_ms"]["p99"] > P99_LIMIT_MS):
            over = next((s["rate"] for s in webhook
                         if not s["sustained"] and not s.get("retried_because_busy")),
                        TARGET_RATE)
            log(f"profiling gunicorn workers with py-spy at {over:.0f}/s")
            profile_result = _profile_at(stack, gunicorn, over, tenant, 8.0)
        gunicorn.stop()  # the closed loop has its own gunicorn
        closed = _closed_loop(stack, tenant, duration=2.0 if quick else 8.0,
                              rounds=1 if quick else 3)
        # Latency of both at one common rate: the receiver's best (or the first step).
        common = rate_w or rates[0]
        h_at = _at(baseline, common)
        w_at = _at(webhook, common)
        figures = {
            "gunicorn": gunicorn.extra,
            "schema": schema,
            "step_seconds": duration,
            "webhook": {
                "highest_sustained_rate": rate_w,
                "p50_ms": best_w["latency_ms"]["p50"] if best_w else None,
                "p99_ms": best_w["latency_ms"]["p99"] if best_w else None,
                "sent": total_sent, "stored_rows": total_stored,
                "stored_equals_sent": total_sent == total_stored,
                "statuses_first_step": webhook[0]["statuses"] if webhook else {},
            },
            "healthz": {
                "highest_sustained_rate": best_h["rate"] if best_h else 0.0,
                "p50_ms": best_h["latency_ms"]["p50"] if best_h else None,
                "p99_ms": best_h["latency_ms"]["p99"] if best_h else None,
                "top_step_tried": baseline[-1]["rate"] if baseline else None,
                "generator_saturated": any(s["generator_saturated"] for s in baseline),
            },
            "sequential_in_process": sequential,
            "closed_loop": closed,
            "at_common_rate": {
                "rate": common,
                "webhook_p99_ms": w_at["latency_ms"]["p99"] if w_at else None,
                "healthz_p99_ms": h_at["latency_ms"]["p99"] if h_at else None,
            },
        }
        figures["ratios"] = {
            "sustained_rate_webhook_over_healthz": ratio(
                rate_w, figures["healthz"]["highest_sustained_rate"]),
            "p99_webhook_over_healthz_at_common_rate": ratio(
                figures["at_common_rate"]["webhook_p99_ms"],
                figures["at_common_rate"]["healthz_p99_ms"]),
        }
        # CPU per request: the slope of our processes' CPU against requests over the steps
        # where every request was answered, and the rate that cost allows on this machine's
        # CPUs if nothing else ran: the ceiling behind the measured rate.
        ncpu = os.cpu_count() or 1
        cpu_w, cpu_h = _cpu_ms_per_request(webhook), _cpu_ms_per_request(baseline)
        figures["cpu_ms_per_request"] = {
            "webhook": cpu_w, "healthz": cpu_h,
            "webhook_ceiling_per_second": round(ncpu * 1000 / cpu_w) if cpu_w else None,
            "healthz_ceiling_per_second": round(ncpu * 1000 / cpu_h) if cpu_h else None,
            "others_share_during_steps": [s["cpu"]["others"] for s in webhook],
        }
        figures["cpu_ms_per_request"]["webhook_by_process"] = _cpu_split(webhook)
        figures["cpu_ms_per_request"]["healthz_by_process"] = _cpu_split(baseline)
        ceiling_w = figures["cpu_ms_per_request"]["webhook_ceiling_per_second"]
        w, h, at = figures["webhook"], figures["healthz"], figures["at_common_rate"]
        rows = [
            {"figure": "highest sustained rate (p99 <= 100 ms, all 2xx)",
             "value": f"{rate_w:.0f}/s", "baseline": f"{h['highest_sustained_rate']:.0f}/s "
             "(/healthz)", "ratio": figures["ratios"]["sustained_rate_webhook_over_healthz"],
             "target": f">= {TARGET_RATIO} of /healthz, >= 500/s",
             "met": rate_w >= TARGET_RATE and (figures["ratios"][
                 "sustained_rate_webhook_over_healthz"] or 0) >= TARGET_RATIO},
            {"figure": "p50 / p99 at that rate", "value": f"{w['p50_ms']} / {w['p99_ms']} ms",
             "baseline": f"{at['healthz_p99_ms']} ms p99 (/healthz at {common:.0f}/s)",
             "ratio": figures["ratios"]["p99_webhook_over_healthz_at_common_rate"],
             "target": "p99 < 100 ms", "met": bool(best_w)},
            {"figure": "cost per request, one at a time, in-process",
             "value": f"{sequential['webhook_ms']} ms",
             "baseline": f"{sequential['healthz_ms']} ms (/healthz)",
             "ratio": ratio(sequential["webhook_ms"], sequential["healthz_ms"]), "target": ""},
            {"figure": "CPU per request, all serving processes (slope over the steps)",
             "value": f"{cpu_w} ms (ceiling {ceiling_w}/s on {ncpu} CPUs; "
                      + ", ".join(f"{k} {v}" for k, v in
                                  figures["cpu_ms_per_request"]["webhook_by_process"].items()
                                  if v and v >= 0.05) + ")",
             "baseline": f"{cpu_h} ms (/healthz)", "ratio": ratio(cpu_w, cpu_h),
             "target": "<= 4 ms for 500/s on 2 CPUs", "met": None},
            {"figure": "stored rows = sent", "value": f"{total_stored} of {total_sent}",
             "baseline": "", "ratio": None, "target": "equal",
             "met": total_sent == total_stored},
            {"figure": f"closed loop, {CLOSED_CLIENTS} clients, gunicorn {CLOSED_WORKERS} sync "
                       f"workers: throughput (mean of {closed['rounds']} rounds of "
                       f"{closed['seconds_each']:.0f} s; ratio per round "
                       f"{closed['ratio_each_round']})",
             "value": f"{closed['webhook_per_second']:.0f}/s",
             "baseline": f"{closed['healthz_per_second']:.0f}/s (/healthz)",
             "ratio": ratio(closed["webhook_per_second"], closed["healthz_per_second"]),
             "target": f">= {TARGET_RATIO} of /healthz",
             "met": (ratio(closed["webhook_per_second"], closed["healthz_per_second"]) or 0)
             >= TARGET_RATIO},
            {"figure": "closed loop: p50 / p99 (worst round)",
             "value": f"{closed['webhook_p50_ms']} / {closed['webhook_p99_ms']} ms",
             "baseline": f"{closed['healthz_p50_ms']} / {closed['healthz_p99_ms']} ms (/healthz)",
             "ratio": ratio(closed["webhook_p99_ms"], closed["healthz_p99_ms"]),
             "target": "p99 < 100 ms", "met": closed["webhook_p99_ms"] < P99_LIMIT_MS},
            {"figure": "closed loop: CPU per request, all serving processes",
             "value": f"{closed['webhook_cpu_ms']} ms", "baseline":
             f"{closed['healthz_cpu_ms']} ms (/healthz)",
             "ratio": ratio(closed["webhook_cpu_ms"], closed["healthz_cpu_ms"]), "target": "",
             "met": None},
            {"figure": "closed loop: stored rows = answered 200 = sent",
             "value": f"{closed['stored']} = {closed['webhook_ok']} = {closed['webhook_sent']}",
             "baseline": "", "ratio": None, "target": "equal",
             "met": closed["stored_equals_ok"]},
        ]
        others = [s["cpu"]["others"] for s in webhook + baseline if s.get("cpu")]
        return {
            "name": "webhook_ingest",
            # Measured during every step, which says more than one sample before the start.
            "machine_during": {"others_share_max": max(others, default=None),
                               "others_share_webhook_steps": [
                                   s["cpu"]["others"] for s in webhook if s.get("cpu")]},
            "rows": rows,
            "figures": figures,
            "steps": {"webhook": webhook, "healthz": baseline},
            "targets": [{
                "target": f"{TARGET_RATE:.0f} deliveries/s sustained at p99 < "
                          f"{P99_LIMIT_MS:.0f} ms, stored rows = sent",
                "value": f"{rate_w:.0f}/s (p99 {figures['webhook']['p99_ms']} ms), "
                         f"stored {total_stored} of {total_sent}",
                "met": bool(rate_w >= TARGET_RATE and total_sent == total_stored),
            }, {
                "target": f"closed loop: >= {TARGET_RATIO} of /healthz's throughput, p99 < "
                          f"{P99_LIMIT_MS:.0f} ms, stored = sent",
                "value": f"{ratio(closed['webhook_per_second'], closed['healthz_per_second'])}"
                         f" (p99 {closed['webhook_p99_ms']} ms), stored {closed['stored']} of "
                         f"{closed['webhook_sent']}",
                "met": bool((ratio(closed["webhook_per_second"], closed["healthz_per_second"])
                             or 0) >= TARGET_RATIO and closed["webhook_p99_ms"] < P99_LIMIT_MS
                            and closed["stored_equals_ok"]),
            }],
            "profile": profile_result,
        }
