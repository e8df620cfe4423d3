"""A progress bar for long management commands, shown only when stdout is a terminal."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

ProgressCallback = Callable[[int, int | None], None]


@contextlib.contextmanager
def terminal_progress(*, desc: str, unit: str) -> Iterator[ProgressCallback | None]:
    """Yields a `progress(done, total)` callback driving a tqdm bar, or None off a terminal.

    Scripts and logs get the command's summary lines only, never bar redraws.
    """
    if not sys.stdout.isatty():
        yield None
        return
    from tqdm import tqdm

    bar = tqdm(total=None, unit=unit, desc=desc, file=sys.stderr)

    def progress(done: int, total: int | None) -> None:
        if total is not None and bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh()

    try:
        yield progress
    finally:
        bar.close()
