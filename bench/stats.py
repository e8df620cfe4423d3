"""Pure arithmetic the benchmarks share: percentiles, rate steps, the sustained rate, ratios.

No I/O and no Django here, so tests/bench/test_bench_smoke.py checks it directly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): a value that was actually observed.

    With 1,000 samples p99 is the 990th smallest; with fewer than 100 samples p99 is the maximum,
    so a short run never reports a tail better than what it saw.
    """
    if not values:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[rank - 1])


def latency_summary(values: Sequence[float]) -> dict:
    """count, mean, p50, p90, p99, max (milliseconds in, rounded milliseconds out)."""
    if not values:
        return {"count": 0, "mean": None, "p50": None, "p90": None, "p99": None, "max": None}
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "mean": round(sum(ordered) / len(ordered), 2),
        "p50": round(percentile(ordered, 50), 2),
        "p90": round(percentile(ordered, 90), 2),
        "p99": round(percentile(ordered, 99), 2),
        "max": round(ordered[-1], 2),
    }


def rate_steps(start: float, stop: float, *, linear_until: float = 1000.0,
               step: float = 100.0, factor: float = 1.25) -> list[float]:
    """Arrival rates to try, in order: `start`, +`step` up to `linear_until`, then ×`factor`.

    Fine steps where the targets sit (hundreds a second), coarser ones above, so the search
    for the knee stays within a few minutes.
    """
    if start <= 0 or stop < start or step <= 0 or factor <= 1:
        raise ValueError("need 0 < start <= stop, step > 0 and factor > 1")
    rates, rate = [], float(start)
    while rate <= stop + 1e-9:
        rates.append(rate)
        rate = rate + step if rate < linear_until else float(round(rate * factor / 10) * 10)
    return rates


def step_ok(result: dict, *, p99_limit_ms: float, min_rate_share: float = 0.95) -> bool:
    """A step is sustained when every request was answered 2xx, p99 stayed under the limit and
    the generator really sent at (nearly) the asked rate."""
    latency = result.get("latency_ms") or {}
    return (
        result.get("sent", 0) > 0
        and result.get("ok") == result.get("sent")
        and latency.get("p99") is not None
        and latency["p99"] <= p99_limit_ms
        and result.get("achieved_send_rate", 0) >= min_rate_share * result.get("rate", 0)
    )


def highest_sustained(steps: Iterable[dict], *, p99_limit_ms: float) -> dict | None:
    """The last step of the unbroken run of sustained steps from the first (None if none).

    Stepping stops at the first failure, but if a later step passed by luck it does not count:
    "sustained" means every lower rate held too.
    """
    best = None
    for result in steps:
        if not step_ok(result, p99_limit_ms=p99_limit_ms):
            break
        best = result
    return best


def ratio(value: float | None, baseline: float | None) -> float | None:
    """value / baseline, rounded; None when either is missing or the baseline is zero."""
    if value is None or baseline in (None, 0):
        return None
    return round(value / baseline, 3)


def min_list_calls(counts_by_status: dict[str, int], page_size: int = 300) -> int:
    """The fewest list calls that can return these users: ceil(n / page) per status, and one
    call for an empty status (Zoom still has to be asked)."""
    return sum(max(1, math.ceil(n / page_size)) for n in counts_by_status.values())


def max_in_window(times: Sequence[float], window: float = 1.0) -> int:
    """Most events within any half-open window of `window` seconds (a sliding window)."""
    ordered = sorted(times)
    best, left = 0, 0
    for right, t in enumerate(ordered):
        while t - ordered[left] >= window:
            left += 1
        best = max(best, right - left + 1)
    return best


def marginal_cost(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of cost against count through (count, cost) points: the cost of one
    more item, without the fixed cost every interval pays (idle workers, timers). With a single
    point, cost / count."""
    points = [(float(x), float(y)) for x, y in points if x > 0]
    if not points:
        return None
    if len(points) == 1 or len({x for x, _ in points}) == 1:
        return sum(y for _, y in points) / sum(x for x, _ in points)
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return sxy / sxx
