"""Figures of the last fault-test run, written to test-artifacts/reliability.json (git-ignored)
and copied by hand into docs/reliability.md."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

from .audit import ARTIFACTS

FIGURES = ARTIFACTS / "reliability.json"
_lock = threading.Lock()


def record_figures(test: str, figures: dict) -> None:
    with _lock:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        try:
            data = json.loads(FIGURES.read_text())
        except (FileNotFoundError, ValueError):
            data = {}
        data[test] = {**figures, "at": datetime.now(UTC).isoformat(timespec="seconds")}
        FIGURES.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
