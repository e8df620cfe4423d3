"""Benchmark 6, the call budget: a day of meetings against a lowered daily cap, then the reset.

A meeting's metrics cost 1 + ceil(n/300) + ceil(n/10) Heavy calls (detail, participants by
300, QoS by 10). The sandbox and the portal are both given a lowered daily Heavy +
Resource-intensive cap (DAILY_CAP_SHARE of what the day's meetings need), the sandbox ends a
day of MEETINGS meetings of mixed sizes (SIZES, in turn), and 2 real workers fetch them. What
the cap does not allow is parked. Then the day turns: the sandbox's clock moves on a day, the
portal's own day counters are cleared (as 00:00 UTC would), and `metrics_parked_resume` runs
(as beat does) until nothing is left parked.

Reported: Heavy calls used (the sandbox's own count) against the floor for the meetings fetched
(the formula over their participant counts: the baseline), calls per meeting, the backlog the
health page shows at the end of the day (`budget.tenant_fetch_backlog`), time to complete
after the reset, whether the resumed fetches ran oldest first, and lost = ended - fetched.

Scaled down: the full day is 3,000 meetings; this runs MEETINGS (a tenth) with the cap scaled
the same way, and the per-second Heavy limit raised (HEAVY_PER_SECOND) so the run takes
minutes: the daily budget, not the per-second pace, is what is measured. The resume's spread
(normally one minute per batch) is shortened to RESUME_SPREAD_SECONDS.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

from bench.common import ACCOUNT_ID, SECRETS, Stack, log
from bench.stats import ratio

MEETINGS = 300
QUICK_MEETINGS = 30
SIZES = (3, 8, 15, 40, 120)  # participants, in turn: 3, 3, 4, 6 and 14 calls
MINUTES = 5
DAILY_CAP_SHARE = 0.6
HEAVY_PER_SECOND = 100
RESUME_SPREAD_SECONDS = 5.0
TERMINAL = ("done", "failed", "skipped", "parked")


def _wait_settled(uuids: list[str], timeout: float, *, parked_ok: bool) -> float:
    from zoom_integration.models import ZoomMeeting

    final = TERMINAL if parked_ok else ("done", "failed", "skipped")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = ZoomMeeting.objects.filter(uuid__in=uuids)
        if rows.count() == len(uuids) and not rows.exclude(fetch_status__in=final).exists():
            break
        time.sleep(0.5)
    return time.monotonic()


def _heavy(stack: Stack) -> dict:
    stats = stack.sandbox_control("GET", "stats")
    return stats.get("rate_limits", {}).get(ACCOUNT_ID, {}).get("Heavy", {})


def _rank_correlation(pairs: list[tuple[float, float]]) -> float | None:
    """Spearman's rank correlation of (ended, fetched) times: 1.0 is strictly oldest first."""
    n = len(pairs)
    if n < 2:
        return None

    def ranks(values):
        order = sorted(range(n), key=lambda i: values[i])
        out = [0] * n
        for rank, i in enumerate(order):
            out[i] = rank
        return out

    a, b = ranks([p[0] for p in pairs]), ranks([p[1] for p in pairs])
    d2 = sum((x - y) ** 2 for x, y in zip(a, b, strict=True))
    return round(1 - 6 * d2 / (n * (n * n - 1)), 3)


def run(*, quick: bool = False, profile: bool = True) -> dict:
    count = QUICK_MEETINGS if quick else MEETINGS
    sizes = [SIZES[i % len(SIZES)] for i in range(count)]
    with Stack("call_budget") as stack:
        schema = stack.database()
        stack.django()
        from zoom_integration.budget import meeting_calls

        needed = sum(meeting_calls(n) for n in sizes)
        cap = int(needed * DAILY_CAP_SHARE)
        tenant = stack.tenant()
        gunicorn = stack.gunicorn(2)
        limits = {"Heavy": {"per_second": HEAVY_PER_SECOND},
                  "Heavy+Resource-intensive": {"per_day": cap}}
        stack.start_sandbox(users=200, groups=5,
                            event_url=f"http://localhost:{gunicorn.extra['port']}/zoom/event",
                            extra_args=["--rate-limits-json", json.dumps(limits)])
        stack.connect_tenant(tenant)
        stack.celery(2, env={"BENCH_RATE_LIMIT_OVERRIDES": json.dumps({
            "Heavy": {"per_second": HEAVY_PER_SECOND}, "combined_per_day": cap})})

        from django.db.models import Count, F
        from django.utils import timezone

        from zoom_integration import metrics
        from zoom_integration.budget import tenant_fetch_backlog
        from zoom_integration.models import ZoomMeeting
        from zoom_integration.ratelimit import _redis

        # The day: meetings end one after another.
        started = time.monotonic()
        uuids = []
        for n in sizes:
            uuids.append(stack.sandbox_control("POST", "meetings/end", {
                "client_id": SECRETS["client_id"], "participants": n, "minutes": MINUTES})["uuid"])
        day_end = _wait_settled(uuids, timeout=900, parked_ok=True)
        meetings = ZoomMeeting.objects.filter(uuid__in=uuids)
        day1 = {s: meetings.filter(fetch_status=s).count() for s in TERMINAL}
        heavy_day1 = _heavy(stack)
        backlog = tenant_fetch_backlog(tenant=tenant)
        log(f"call budget day 1: {day1} in {day_end - started:.1f} s; Heavy accepted "
            f"{heavy_day1.get('accepted')}, refused daily {heavy_day1.get('rejected_daily')} "
            f"(cap {cap}); backlog {backlog.parked}, clears by {backlog.clears_by}")

        # 00:00 UTC: Zoom's day turns (the sandbox's clock), and the portal's own day counters
        # and daily park flags expire (cleared here), and beat's resume runs.
        stack.sandbox_control("POST", "clock", {"advance": 86400})
        client = _redis()
        for pattern in ("zoomrl:usage:*", "zoomrl:park:*", "zoomrl:pending:*"):
            for key in client.scan_iter(pattern):
                client.delete(key)
        metrics.RESUME_SPREAD_SECONDS = RESUME_SPREAD_SECONDS
        reset_at = time.monotonic()
        reset_wall = timezone.now()
        resumed = 0
        while True:
            batch = metrics.metrics_parked_resume(now=timezone.now() + timedelta(days=1))
            resumed += batch
            if batch < 500:
                break
        done_at = _wait_settled(uuids, timeout=900, parked_ok=False)
        heavy_total = _heavy(stack)
        final = {s: meetings.filter(fetch_status=s).count() for s in TERMINAL}
        done = meetings.filter(fetch_status="done")
        # n is what Zoom pages over: every join session it listed (people rejoin), not people.
        floor = sum(meeting_calls(n) for n in done.annotate(listed=Count("participants"))
                    .values_list("listed", flat=True))
        accepted = heavy_total.get("accepted", 0)
        resumed_rows = list(meetings.filter(fetched_at__gte=reset_wall).order_by(
            F("end_time").asc()).values_list("end_time", "fetched_at"))
        order = _rank_correlation([(e.timestamp(), f.timestamp()) for e, f in resumed_rows
                                   if e and f])
        lost = len(uuids) - final["done"]
        log(f"call budget after the reset: {final} in {done_at - reset_at:.1f} s; Heavy "
            f"accepted {accepted} (floor {floor}); resumed {resumed}, order {order}")

    figures = {
        "schema": schema, "meetings": len(uuids), "sizes": list(SIZES), "minutes": MINUTES,
        "calls_needed": needed, "daily_cap": cap, "day1": day1, "final": final,
        "heavy_day1": heavy_day1, "heavy_total": heavy_total, "floor_calls": floor,
        "backlog_end_of_day": {
            "parked": backlog.parked, "oldest_end": str(backlog.oldest_end),
            "resumes_at": str(backlog.resumes_at), "clears_by": str(backlog.clears_by),
            "calls_per_meeting": backlog.calls_per_meeting},
        "resumed": resumed, "seconds_day": round(day_end - started, 1),
        "seconds_after_reset": round(done_at - reset_at, 1),
        "resume_order_rank_correlation": order, "lost": lost,
    }
    work = (f"{len(uuids)} meetings of {'/'.join(map(str, SIZES))} participants in turn × "
            f"{MINUTES} min; cap {cap} Heavy calls a day ({DAILY_CAP_SHARE:.0%} of the "
            f"{needed} the day needs); scaled down 10x from 3,000")
    rows = [
        {"figure": f"Heavy calls used, all meetings ({work})",
         "value": f"{accepted} (day 1: {heavy_day1.get('accepted', 0)}, refused by Zoom's "
                  f"daily limit: {heavy_total.get('rejected_daily', 0)})",
         "baseline": f"{floor} floor: Σ 1 + ceil(n/300) + ceil(n/10) over the fetched",
         "ratio": ratio(accepted, floor), "target": "= floor", "met": accepted == floor},
        {"figure": "calls per meeting", "value": f"{round(accepted / max(1, final['done']), 2)}",
         "baseline": f"{round(floor / max(1, final['done']), 2)} floor",
         "ratio": ratio(accepted, floor), "target": "", "met": None},
        {"figure": "end of day 1: fetched / parked (the backlog)",
         "value": f"{day1['done']} / {day1['parked']}; health page: {backlog.parked} waiting, "
                  f"oldest ended {backlog.oldest_end:%H:%M:%S} UTC, clears by "
                  f"{backlog.clears_by:%Y-%m-%d %H:%M} UTC" if backlog.parked else
                  f"{day1['done']} / 0",
         "baseline": "", "ratio": None, "target": "", "met": None},
        {"figure": "after the reset: all fetched (time), resumed oldest first (rank "
                   "correlation of end time and fetch time, 1 = strictly)",
         "value": f"{final['done']} of {len(uuids)} in {figures['seconds_after_reset']} s; "
                  f"order {order}",
         "baseline": f"day 1 took {figures['seconds_day']} s", "ratio": None,
         "target": "all fetched", "met": final["done"] == len(uuids)},
        {"figure": "lost (ended but never fetched)", "value": str(lost), "baseline": "",
         "ratio": None, "target": "0", "met": lost == 0},
    ]
    return {
        "name": "call_budget", "rows": rows, "figures": figures,
        "targets": [{"target": "calls = floor, nothing lost, all fetched after the reset",
                     "value": f"{accepted} of floor {floor}, lost {lost}",
                     "met": accepted == floor and lost == 0}],
    }
