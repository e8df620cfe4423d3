"""After `make mutate`: per-module totals, and every survivor either accepted or shown.

mutmut lists a survivor by name only; whether it is a real gap in the tests or a change no
behaviour can observe (an "equivalent" mutant) is a human judgement. The judgements live in
`docs/mutants-equivalent.toml`, one reason per group, each mutant with the line it changes.
This script joins the two:

- a survivor (or a mutant no test reaches) that is not on the list is printed with its diff,
  and the exit status is 1: close it with a test, or add it to the list with its reason;
- an entry whose mutant now changes a different line (the code moved, so mutmut's numbering
  points elsewhere) is "stale" and fails too: look again, then update the recorded line;
- an entry whose mutant is now killed is only reported, to be removed from the list.

Reads mutmut's own command line (`mutmut results --all true`, `mutmut show NAME`), not its
internals, so it runs in the directory `make mutate` ran in.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tomllib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACCEPTED_FILE = ROOT / "docs" / "mutants-equivalent.toml"

# mutmut's statuses, by what they say of the tests. A timeout counts as caught: the mutant
# makes the tests hang, which a CI job's time limit turns into a failure.
CAUGHT = {"killed", "timeout", "caught by type check", "segfault"}
MISSED = {"survived", "no tests", "suspicious"}


@dataclass(frozen=True)
class Accepted:
    """One mutant judged equivalent: the line it writes, and why nothing can observe it."""

    name: str
    mutated: str
    reason: str


@dataclass
class Report:
    statuses: dict[str, str]
    totals: dict[str, Counter] = field(default_factory=dict)
    unaccepted: list[str] = field(default_factory=list)
    stale: list[tuple[str, str, str]] = field(default_factory=list)  # name, recorded, now
    accepted_survivors: list[str] = field(default_factory=list)
    now_caught: list[str] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not (self.unaccepted or self.stale or self.not_run)


def parse_results(text: str) -> dict[str, str]:
    """`mutmut results --all true` prints one `    name: status` line per mutant."""
    statuses = {}
    for line in text.splitlines():
        name, sep, status = line.strip().partition(": ")
        if sep and "__mutmut_" in name:
            statuses[name] = status.strip()
    return statuses


def module_of(mutant: str) -> str:
    """`zoom_integration.client.x_paginate__mutmut_3` -> `zoom_integration.client`."""
    return mutant.rsplit(".", 1)[0]


def changed_line(diff: str) -> str:
    """What a mutant writes, as one comparable line: its added lines, or what it removes."""
    lines = diff.splitlines()
    added = [line[1:].strip() for line in lines
             if line.startswith("+") and not line.startswith("+++")]
    if added:
        return " / ".join(added)
    removed = [line[1:].strip() for line in lines
               if line.startswith("-") and not line.startswith("---")]
    return "removed: " + " / ".join(removed)


def load_accepted(path: Path = ACCEPTED_FILE) -> dict[str, Accepted]:
    """Read the list; a name given twice is an error (two reasons can't both hold)."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    accepted: dict[str, Accepted] = {}
    for group in data.get("equivalent", []):
        for mutant in group["mutants"]:
            name = mutant["name"]
            if name in accepted:
                raise ValueError(f"{path.name}: {name} is listed twice")
            accepted[name] = Accepted(name=name, mutated=mutant["mutated"], reason=group["reason"])
    return accepted


def judge(statuses: Mapping[str, str], accepted: Mapping[str, Accepted],
          diff_of: Callable[[str], str]) -> Report:
    """Sort every mutant of the run; `diff_of` is asked only for survivors."""
    report = Report(statuses=dict(statuses))
    for name, status in sorted(statuses.items()):
        report.totals.setdefault(module_of(name), Counter())[status] += 1
        if status in CAUGHT:
            if name in accepted:
                report.now_caught.append(name)
        elif status in MISSED:
            entry = accepted.get(name)
            if entry is None:
                report.unaccepted.append(name)
                continue
            now = changed_line(diff_of(name))
            if " ".join(now.split()) != " ".join(entry.mutated.split()):
                report.stale.append((name, entry.mutated, now))
            else:
                report.accepted_survivors.append(name)
        else:  # not checked, interrupted: the run is not complete
            report.not_run.append(name)
    return report


def render(report: Report, diff_of: Callable[[str], str]) -> str:
    out = ["module                                   mutants  caught  equivalent  missed  not run"]
    accepted = set(report.accepted_survivors)
    missed = set(report.unaccepted) | {name for name, _, _ in report.stale}
    not_run = set(report.not_run)
    for module, counts in sorted(report.totals.items()):
        names = [n for n in report.statuses if module_of(n) == module]
        out.append(
            f"{module:<40} {sum(counts.values()):>7}  {sum(counts[s] for s in CAUGHT):>6}"
            f"  {sum(n in accepted for n in names):>10}  {sum(n in missed for n in names):>6}"
            f"  {sum(n in not_run for n in names):>7}"
        )
    caught = sum(1 for s in report.statuses.values() if s in CAUGHT)
    if caught + len(missed):
        out.append(f"\nscore: {caught} caught of {caught + len(missed)} non-equivalent mutants"
                   f" ({100 * caught / (caught + len(missed)):.1f} %), {len(accepted)} equivalent")
    for name in report.unaccepted:
        out += [f"\nSURVIVED, not on the list: {name} ({report.statuses[name]})", diff_of(name)]
    for name, recorded, now in report.stale:
        out.append(f"\nSTALE: {name} was recorded as changing\n    {recorded}\n"
                   f"  and now changes\n    {now}")
    if report.now_caught:
        out.append("\nNow caught (remove from the list): " + ", ".join(report.now_caught))
    if report.not_run:
        out.append(f"\n{len(report.not_run)} mutants were not run to the end (the run was stopped):"
                   " run `make mutate` again to finish them.")
    out.append("\nOK: every survivor is on the list of equivalent mutants." if report.passed
               else f"\nNot OK: see {ACCEPTED_FILE.relative_to(ROOT)} and docs/testing.md.")
    return "\n".join(out)


def _mutmut(*args: str) -> str:
    mutmut = Path(sys.executable).with_name("mutmut")
    return subprocess.run([str(mutmut), *args], check=True, capture_output=True, text=True).stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accepted", type=Path, default=ACCEPTED_FILE,
                        help="the list of equivalent mutants (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        statuses = parse_results(_mutmut("results", "--all", "true"))
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"Could not read mutmut's results: {exc}", file=sys.stderr)
        return 2
    if not statuses:
        print("No mutmut results here: run `make mutate` first.", file=sys.stderr)
        return 2
    diffs: dict[str, str] = {}

    def diff_of(name: str) -> str:
        if name not in diffs:
            diffs[name] = _mutmut("show", name)
        return diffs[name]

    report = judge(statuses, load_accepted(args.accepted), diff_of)
    print(render(report, diff_of))
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
