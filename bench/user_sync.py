"""Benchmark 3, full user sync of 10,000 and 100,000 users (5 groups) against the sandbox.

Each sync runs in a fresh child process (`python -m bench.user_sync` with a JSON spec on stdin)
calling `zoom_directory_sync`, the service behind `zoom_sync`, beat and the admin action, so its
peak RSS (getrusage) belongs to the sync alone. Database queries are counted with
`connection.execute_wrapper` (counting, not storing them, so memory stays honest); list calls
come from the sandbox's own request counters.

Target: exactly the minimum list calls (ceil(n / 300) per status), a bounded number of
queries per page, at least 5,000 users a second, flat memory. Baseline: the same pages fetched by
a plain requests loop (bench.fetchonly), paced to the same per-second limit.
"""

from __future__ import annotations

import json
import resource
import sys
import time

from bench.common import ACCOUNT_ID, TENANT_SLUG, Stack, log, run_child
from bench.fetchonly import FetchOnly
from bench.stats import min_list_calls, ratio

TARGET_USERS_PER_SECOND = 5000.0
MAX_QUERIES_PER_PAGE = 10  # "bounded": a few statements per page, never one per user
GROUPS = 5


def _rss_mib() -> float:
    """Peak resident set of this process so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _current_rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return round(pages * resource.getpagesize() / 1024 / 1024, 1)


def child(spec: dict) -> dict:
    """In the child: one full directory sync, measured."""
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from tenants.models import Tenant
    from zoom_integration.directory import zoom_directory_sync
    from zoom_integration.models import ZoomGroupMembership, ZoomUser

    settings.ZOOM_API_BASE_URL = spec["api_base"]
    tenant = Tenant.objects.get(slug=TENANT_SLUG)
    queries = {"n": 0}

    def count(execute, sql, params, many, context):
        queries["n"] += 1
        return execute(sql, params, many, context)

    rss_before = _current_rss_mib()
    started = time.perf_counter()

    def sync():
        with connection.execute_wrapper(count):
            return zoom_directory_sync(tenant=tenant)

    report = None
    if spec.get("profile"):
        from bench.profiling import pyinstrument_run

        runs, report = pyinstrument_run(sync, name=f"user_sync_{spec['users']}")
    else:
        runs = sync()
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 3), "queries": queries["n"],
        "rss_before_mib": rss_before, "peak_rss_mib": _rss_mib(),
        "runs": [{"kind": r.kind, "status": r.status, "api_calls": r.api_calls,
                  "users_seen": r.users_seen, "error": (r.error or "")[:300]} for r in runs],
        "users_stored": ZoomUser.objects.filter(tenant=tenant, deleted_at__isnull=True).count(),
        "memberships_stored": ZoomGroupMembership.objects.filter(user__tenant=tenant).count(),
        "profile": report,
    }


def _clear_directory() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE zoom_integration_zoomgroupmembership, "
                       "zoom_integration_zoomuser, zoom_integration_zoomgroup, "
                       "zoom_integration_syncrun CASCADE")


def _requests(stack: Stack) -> dict:
    return stack.sandbox_control("GET", "stats")["requests"]


def _measure(stack: Stack, size: int, *, profile: bool) -> dict:
    stack.start_sandbox(users=size, groups=GROUPS)
    from tenants.models import Tenant

    tenant = Tenant.objects.get(slug=TENANT_SLUG)
    stack.connect_tenant(tenant)
    _clear_directory()
    spec = {"users": size, "api_base": stack.sandbox.url + "/v2"}
    stack.sandbox_control("POST", "reset")
    first = run_child("bench.user_sync", spec, env=stack.env, timeout=900)
    calls = _requests(stack)
    limits = stack.sandbox_control("GET", "stats")["rate_limits"].get(ACCOUNT_ID, {})
    stack.sandbox_control("POST", "reset")
    again = run_child("bench.user_sync", spec, env=stack.env, timeout=900)
    calls_again = _requests(stack)
    stack.sandbox_control("POST", "reset")
    members = calls.get("GET groups", 0) > 1
    baseline = FetchOnly(spec["api_base"], stack.sandbox_token()).directory(members=members)
    per_status = baseline["users"]
    total_users = sum(per_status.values())
    minimum = min_list_calls(per_status)
    users_calls = calls.get("GET users", 0)
    pages = users_calls + calls.get("GET groups", 0)
    result = {
        "users": total_users, "users_by_status": per_status, "groups": GROUPS,
        "first_sync": first, "re_sync": again,
        "users_per_second": round(total_users / first["seconds"], 1),
        "re_sync_users_per_second": round(total_users / again["seconds"], 1),
        "user_list_calls": users_calls, "user_list_calls_minimum": minimum,
        "group_calls": calls.get("GET groups", 0),
        "re_sync_user_list_calls": calls_again.get("GET users", 0),
        "queries_per_page": round(first["queries"] / max(1, pages), 2),
        "re_sync_queries_per_page": round(again["queries"] / max(1, pages), 2),
        "rss_growth_mib": round(first["peak_rss_mib"] - first["rss_before_mib"], 1),
        "sandbox_rate_limits": {k: {x: v.get(x) for x in ("calls", "rejected_qps",
                                                           "max_per_second")}
                                for k, v in limits.items()},
        "fetch_only": baseline,
        "ratio_sync_over_fetch_only": ratio(first["seconds"], baseline["seconds"]),
    }
    log(f"{total_users} users: sync {first['seconds']} s ({result['users_per_second']}/s), "
        f"re-sync {again['seconds']} s, fetch-only {baseline['seconds']} s; list calls "
        f"{users_calls} (min {minimum}); {result['queries_per_page']} queries/page; "
        f"peak RSS {first['peak_rss_mib']} MiB (+{result['rss_growth_mib']})")
    if profile and result["users_per_second"] < TARGET_USERS_PER_SECOND:
        _clear_directory()
        log(f"{total_users} users: below target; profiling a sync with pyinstrument")
        profiled = run_child("bench.user_sync", {**spec, "profile": True}, env=stack.env,
                             timeout=900)
        result["profile"] = profiled["profile"]
        result["profile_seconds"] = profiled["seconds"]
    stack.stop_sandbox()
    return result


def run(*, quick: bool = False, profile: bool = True) -> dict:
    sizes = [1000] if quick else [10_000, 100_000]
    with Stack("user_sync") as stack:
        schema = stack.database()
        stack.django()
        stack.tenant()
        measured = [_measure(stack, size, profile=profile and not quick and size >= 100_000)
                    for size in sizes]
        rows = []
        for m in measured:
            n = f"{m['users']:,}"
            rows += [
                {"figure": f"{n} users: full sync (users/s)",
                 "value": f"{m['users_per_second']:,.0f}/s ({m['first_sync']['seconds']} s)",
                 "baseline": f"{m['fetch_only']['seconds']} s fetch-only "
                             f"({m['users'] / m['fetch_only']['seconds']:,.0f}/s)",
                 "ratio": m["ratio_sync_over_fetch_only"], "target": ">= 5,000/s",
                 "met": m["users_per_second"] >= TARGET_USERS_PER_SECOND},
                {"figure": f"{n} users: re-sync, all users known (users/s)",
                 "value": f"{m['re_sync_users_per_second']:,.0f}/s ({m['re_sync']['seconds']} s)",
                 "baseline": "", "ratio": ratio(m["re_sync"]["seconds"],
                                               m["fetch_only"]["seconds"]), "target": ""},
                {"figure": f"{n} users: user list calls vs minimum",
                 "value": f"{m['user_list_calls']} (+{m['group_calls']} groups calls)",
                 "baseline": f"{m['user_list_calls_minimum']} minimum", "ratio": ratio(
                     m["user_list_calls"], m["user_list_calls_minimum"]), "target": "= minimum",
                 "met": m["user_list_calls"] == m["user_list_calls_minimum"]},
                {"figure": f"{n} users: DB queries per API page",
                 "value": f"{m['queries_per_page']} (re-sync {m['re_sync_queries_per_page']})",
                 "baseline": "", "ratio": None, "target": "bounded",
                 "met": m["queries_per_page"] <= MAX_QUERIES_PER_PAGE},
                {"figure": f"{n} users: peak RSS of the sync process",
                 "value": f"{m['first_sync']['peak_rss_mib']} MiB "
                          f"(+{m['rss_growth_mib']} MiB during the sync)",
                 "baseline": "", "ratio": None, "target": "flat", "met": None},
            ]
        big = measured[-1]
        small = measured[0]
        flat = (len(measured) < 2
                or big["rss_growth_mib"] <= max(2 * small["rss_growth_mib"], 50.0))
        rows[-1]["met"] = flat
        targets = [
            {"target": "users/s >= 5,000 on the largest account",
             "value": f"{big['users_per_second']:,.0f}/s ({big['users']:,} users)",
             "met": big["users_per_second"] >= TARGET_USERS_PER_SECOND},
            {"target": "user list calls = minimum (ceil(n/300) per status)",
             "value": ", ".join(f"{m['user_list_calls']} vs {m['user_list_calls_minimum']}"
                                for m in measured),
             "met": all(m["user_list_calls"] == m["user_list_calls_minimum"]
                        for m in measured)},
            {"target": "flat memory (growth at 10x users within 2x, or under 50 MiB)",
             "value": ", ".join(f"+{m['rss_growth_mib']} MiB" for m in measured),
             "met": flat},
        ]
        return {"name": "user_sync", "rows": rows, "targets": targets,
                "figures": {"schema": schema, "sizes": measured},
                "profile": next((m.get("profile") for m in measured if m.get("profile")),
                                None)}


if __name__ == "__main__":
    print(json.dumps(child(json.loads(sys.stdin.read()))))
