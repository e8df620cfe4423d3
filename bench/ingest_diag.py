"""Where the webhook receiver's time goes: the ingest load against variants of the receiver.

    python -m bench.ingest_diag                 # plain, no_enqueue, cached_tenant, both
    python -m bench.ingest_diag no_enqueue      # one variant (plus plain, the reference)

A diagnostic, not one of the benchmarks (`python -m bench` does not run it). gunicorn serves
`bench.ingest_diag:application`, the portal's WSGI app with one part of the receiver's path
replaced in that process only (BENCH_INGEST_VARIANT), to show what each part costs at rate:

- `no_enqueue`: `zoom_integration.queueing.webhook_delivery_enqueue` does nothing (the row stays
  pending: the sweeper's job), i.e. the cost of publishing the Celery message in the request;
- `cached_tenant`: `tenants.middleware.tenant_get_by_host` remembers each host's tenant, i.e.
  the cost of the per-request tenant lookup (ORM query and decryption of the tenant's secrets).

Production code is not changed; if those names move, this fails loudly and needs updating.
"""

from __future__ import annotations

import json
import os
import sys
import time

VARIANTS = ("no_enqueue", "cached_tenant", "no_enqueue+cached_tenant")


def _patch(variant: str) -> None:
    if "no_enqueue" in variant:
        import zoom_integration.queueing as queueing

        queueing.webhook_delivery_enqueue = lambda *, delivery_id: True
    if "cached_tenant" in variant:
        import tenants.middleware as middleware

        original = middleware.tenant_get_by_host
        known: dict = {}

        def cached(*, host: str):
            if host not in known:
                known[host] = original(host=host)
            return known[host]

        middleware.tenant_get_by_host = cached


def __getattr__(name: str):
    """`application` for gunicorn, patched per BENCH_INGEST_VARIANT; loaded only when asked,
    so `python -m bench.ingest_diag` itself does not configure Django first."""
    if name != "application":
        raise AttributeError(name)
    from nectar_portal.wsgi import application

    _patch(os.environ.get("BENCH_INGEST_VARIANT", ""))
    return application


def run(variants: list[str], rates: list[float], duration: float = 5.0) -> dict:
    from bench.common import (
        BIN,
        TENANT_HOST,
        Stack,
        cpu_busy,
        free_port,
        log,
        run_child,
        wait_http,
    )

    out: dict = {}
    with Stack("ingest_diag") as stack:
        stack.database()
        stack.django()
        tenant = stack.tenant()
        for variant in ["plain", *variants]:
            port = free_port()
            env = {**stack.env, "BENCH_INGEST_VARIANT": "" if variant == "plain" else variant}
            proc = stack._start(f"gunicorn-{variant}", [
                str(BIN / "gunicorn"), "bench.ingest_diag:application", "--bind",
                f"127.0.0.1:{port}", "--workers", "4", "--log-level", "warning"], env=env)
            try:
                wait_http(f"http://127.0.0.1:{port}/healthz", process=proc.popen)
                spec = {"host": "127.0.0.1", "port": port, "host_header": TENANT_HOST,
                        "kind": "webhook", "path": "/zoom/event", "duration": duration,
                        "secret_token": tenant.secret_token,
                        "account_id": tenant.zoom_account_id}
                run_child("bench.loadgen", {**spec, "rate": 50, "duration": 2}, env=stack.env)
                steps = []
                for rate in rates:
                    busy = cpu_busy(0.5)
                    result = run_child("bench.loadgen", {**spec, "rate": rate}, env=stack.env)
                    lat = result["latency_ms"]
                    steps.append({"rate": rate, "ok": result["ok"], "sent": result["sent"],
                                  "p50_ms": lat["p50"], "p99_ms": lat["p99"],
                                  "cpu_busy_before": busy})
                    log(f"{variant:26s} {rate:5.0f}/s: p50 {lat['p50']} ms, p99 {lat['p99']} ms "
                        f"({result['ok']}/{result['sent']} ok; CPUs {busy:.0%} busy before)")
                    if lat["p99"] is None or lat["p99"] > 1000:
                        break
                    time.sleep(1)
                out[variant] = steps
            finally:
                proc.stop()
                stack.procs.remove(proc)
    return out


def main(argv: list[str]) -> int:
    variants = argv or list(VARIANTS)
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        print(f"unknown variant(s) {unknown}; one of {VARIANTS}", file=sys.stderr)
        return 2
    result = run(variants, [100, 200, 300, 400, 500])
    from bench.common import RESULTS_DIR

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "ingest_diag.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
