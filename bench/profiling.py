"""Profiles for benchmarks that miss a target: py-spy on running processes, pyinstrument in-process.

py-spy samples another process (gunicorn workers, Celery workers) without changing it; its
"raw" output is collapsed stacks ("frame;frame;frame count"), summarised here into the hottest
leaf frames (self time) and the hottest project functions (inclusive time).
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path

from bench.common import BIN, LOG_DIR, ROOT

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def tool_versions() -> dict:
    out = {}
    try:
        done = subprocess.run([str(BIN / "py-spy"), "--version"], capture_output=True,
                              text=True, timeout=10, check=False)
        out["py-spy"] = done.stdout.strip().split()[-1] if done.stdout.strip() else None
    except OSError:
        out["py-spy"] = None
    try:
        import pyinstrument

        out["pyinstrument"] = pyinstrument.__version__
    except ImportError:
        out["pyinstrument"] = None
    return out


def pyspy_start(pid: int, seconds: float, name: str, *, subprocesses: bool = True,
                rate: int = 100) -> tuple[subprocess.Popen | None, Path]:
    """Starts sampling `pid` (and its children) for `seconds`; returns (process, output path),
    the process None when py-spy is not installed."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    out = LOG_DIR / f"profile-{name}.txt"
    args = [str(BIN / "py-spy"), "record", "--pid", str(pid), "--duration",
            str(max(1, int(seconds))), "--rate", str(rate), "--format", "raw", "--output",
            str(out), "--nonblocking"]
    if subprocesses:
        args.append("--subprocesses")
    if not (BIN / "py-spy").exists():
        return None, out
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return proc, out


def pyspy_finish(proc: subprocess.Popen | None, out: Path, *, top: int = 15) -> dict:
    if proc is None:
        return {"error": "py-spy is not installed: .venv/bin/pip install py-spy"}
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    if not out.exists():
        return {"error": (err or "py-spy wrote nothing").strip()[-500:]}
    return {"file": str(out.relative_to(ROOT)), **collapsed_summary(out.read_text(), top=top)}


def _short(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    root = str(ROOT) + "/"
    if path.startswith(root):
        path = path[len(root):]
    elif "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    elif "/lib/python" in path:
        path = "stdlib/" + path.split("/lib/python", 1)[1].split("/", 1)[-1]
    return f"{match['func']} ({path}{':' + match['line'] if match['line'] else ''})"


def _is_project(frame: str) -> bool:
    short = _short(frame)
    return any(f"({prefix}" in short for prefix in ("zoom_integration/", "tenants/",
                                                     "nectar_portal/"))


def collapsed_summary(text: str, *, top: int = 15) -> dict:
    """Top leaf frames (where the time is spent) and top project functions (inclusive)."""
    leaf: Counter = Counter()
    inclusive: Counter = Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += n
        leaf[_short(frames[-1])] += n
        for frame in dict.fromkeys(_short(f) for f in frames if _is_project(f)):
            inclusive[frame] += n

    def share(counter: Counter) -> list[dict]:
        return [{"frame": frame, "share": round(n / total, 3)}
                for frame, n in counter.most_common(top)] if total else []

    return {"samples": total, "top_self": share(leaf), "top_project_inclusive": share(inclusive)}


def pyinstrument_run(func, *, name: str, top: int = 25):
    """Runs `func()` under pyinstrument; returns (its result, a text report's path and head)."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        return func(), {"error": "pyinstrument is not installed: .venv/bin/pip install "
                                 "pyinstrument"}

    profiler = Profiler(interval=0.002)
    profiler.start()
    try:
        result = func()
    finally:
        profiler.stop()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    out = LOG_DIR / f"profile-{name}.txt"
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    out.write_text(text)
    return result, {"file": str(out.relative_to(ROOT)),
                    "head": [line for line in text.splitlines() if line.strip()][:top]}
