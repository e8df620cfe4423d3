"""`python -m bench [NAME ...] [--quick]`: run benchmarks, write bench/results/ and the docs.

Every benchmark starts its own services (bench.common.Stack) and drops them again, so each can
run alone: `python -m bench webhook_ingest`. Results go to bench/results/<time>.json, the merged
latest figures of every benchmark to bench/results/latest.json and latest.md, and (unless
--quick or --no-docs) the figures block of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback

from bench.common import RESULTS_DIR, ROOT, cpu_busy, load_average, log, results_header

BENCHMARKS = {
    "webhook_ingest": "bench.webhook_ingest",
    "e2e_latency": "bench.e2e_latency",
    "user_sync": "bench.user_sync",
    "scale_out": "bench.scale_out",
    "fairness": "bench.fairness",
    "call_budget": "bench.call_budget",
    "qos_storage": "bench.qos_storage",
}
DOCS = ROOT / "docs" / "benchmarks.md"
# Above this share of the CPUs busy before a benchmark starts, its figures are marked as taken on
# a busy machine (other processes compete with the services being measured).
BUSY_LIMIT = 0.25
START, END = "<!-- bench:figures:start -->", "<!-- bench:figures:end -->"


def _cell(value) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).replace("|", "\\|")


def table(results: dict) -> str:
    lines = ["| benchmark | figure | value | baseline | ratio | target | met |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name in BENCHMARKS:
        result = results.get(name)
        if not result:
            continue
        before = result.get("machine_before") or {}
        during = (result.get("machine_during") or {}).get("others_share_webhook_steps")
        if during:
            if max(during) > BUSY_LIMIT:
                lines.append(f"| {name} | **machine busy**: other processes used up to "
                             f"{max(during):.0%} of the CPUs during the steps; figures below "
                             "are low | | | | | |")
        elif before.get("busy"):
            lines.append(f"| {name} | **machine busy**: CPUs {before['cpu_busy']:.0%} busy by "
                         "other processes before the start; figures below are low | | | | | |")
        if result.get("error"):
            lines.append(f"| {name} | **did not run** | {_cell(result['error'][:200])} "
                         "| | | | |")
            continue
        for i, row in enumerate(result.get("rows", [])):
            # A --quick run's sizes are too small to judge a target by.
            met = None if result.get("quick") else row.get("met")
            mark = "" if met is None else ("yes" if met else "**no**")
            lines.append("| " + " | ".join(_cell(x) for x in (
                name if i == 0 else " ", row["figure"], row["value"], row.get("baseline"),
                row.get("ratio"), row.get("target"), mark)) + " |")
    return "\n".join(lines)


def markdown(header: dict, results: dict, command: str) -> str:
    machine = header["machine"]
    taken = {r.get("taken_at") for r in results.values() if r and r.get("taken_at")}
    return "\n".join([
        f"Taken {', '.join(sorted(taken)) or header['taken_at']} at revision "
        f"`{header['git']}` with `{command}`.",
        "",
        f"Machine: {machine['nproc']} CPUs ({machine['cpu_model']}), {machine['ram_gib']} GiB "
        f"RAM, Python {machine['python']}, Django {machine.get('django', '?')}, gunicorn "
        f"{machine.get('gunicorn', '?')}; {machine['platform']}. Profilers: "
        + ", ".join(f"{k} {v or 'not installed'}" for k, v in
                    (header.get("profilers") or {}).items()) + ".",
        "",
        table(results),
        "",
    ])


def update_docs(text: str) -> bool:
    if not DOCS.exists():
        return False
    doc = DOCS.read_text()
    if START not in doc or END not in doc:
        return False
    head, rest = doc.split(START, 1)
    _, tail = rest.split(END, 1)
    DOCS.write_text(f"{head}{START}\n{text}\n{END}{tail}")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run of seconds: tiny sizes, no profiles, no docs update")
    parser.add_argument("--no-docs", action="store_true", help="leave docs/benchmarks.md alone")
    parser.add_argument("--no-profile", action="store_true",
                        help="skip profiling where a target is missed")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; one of {', '.join(BENCHMARKS)}")
    names = args.names or list(BENCHMARKS)
    command = "python -m bench" + (" " + " ".join(args.names) if args.names else "") + (
        " --quick" if args.quick else "")

    header = results_header()
    from bench.profiling import tool_versions

    header["profilers"] = tool_versions()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    run_results: dict = {}
    failed = False
    for name in names:
        busy, load = cpu_busy(2.0), load_average()
        log(f"== {name}{' (quick)' if args.quick else ''} (CPUs {busy:.0%} busy before, "
            f"load average {load})")
        started = time.monotonic()
        try:
            module = importlib.import_module(BENCHMARKS[name])
            result = module.run(quick=args.quick, profile=not args.no_profile)
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            failed = True
            log(f"{name} failed: {exc}")
            result = {"name": name, "error": f"{type(exc).__name__}: {exc}",
                      "traceback": traceback.format_exc()[-4000:]}
        result["seconds"] = round(time.monotonic() - started, 1)
        result["machine_before"] = {"cpu_busy": busy, "load_average_1m": load,
                                    "busy": busy > BUSY_LIMIT}
        result["quick"] = args.quick
        result["taken_at"] = header["taken_at"]
        run_results[name] = result
        log(f"{name}: {result['seconds']} s")

    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    payload = {**header, "command": command, "results": run_results}
    (RESULTS_DIR / f"{stamp}{'-quick' if args.quick else ''}.json").write_text(
        json.dumps(payload, indent=2, default=str))
    latest_path = RESULTS_DIR / ("latest-quick.json" if args.quick else "latest.json")
    latest = json.loads(latest_path.read_text()) if latest_path.exists() else {"results": {}}
    latest.update({k: v for k, v in header.items()})
    latest["results"].update(run_results)
    latest_path.write_text(json.dumps(latest, indent=2, default=str))
    text = markdown(header, latest["results"], command)
    latest_path.with_suffix(".md").write_text(text)
    print(table(run_results))
    if not args.quick and not args.no_docs:
        if update_docs(text):
            log(f"updated {DOCS.relative_to(ROOT)}")
        else:
            log(f"{DOCS.relative_to(ROOT)} has no figures block; left alone")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
