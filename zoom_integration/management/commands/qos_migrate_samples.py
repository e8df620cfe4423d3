"""``manage.py qos_migrate_samples [--batch N]``: move per-minute QoS rows of the former JSON
shape into the compact table, in batches.

Each batch is one transaction that writes the compact rows and deletes the originals, so the
command can be stopped at any time and run again: it resumes with the lowest id left, and a
row is never moved twice. Values come back exactly as they were read (`qos_store.encode`
keeps whatever fits no column in `extra`). A progress bar is drawn on a terminal; the last line
is JSON with `moved`, `remaining` and `batches`; bad input: exit 2, one line.
"""

import json

from zoom_integration.management.base import OneLineCommand, whole_number


class Command(OneLineCommand):
    help = ("Moves QoS samples of the former JSON shape into the compact table in batches; "
            "resumable; last line JSON.")

    def add_arguments(self, parser):
        parser.add_argument("--batch", default="5000", help="rows per transaction (5000)")

    def handle(self, *args, batch, **options):
        from zoom_integration.management.progress import terminal_progress
        from zoom_integration.qos_store import legacy_batch_move, legacy_remaining

        size = whole_number(str(batch), option="--batch", unit="rows", high=100_000)
        total = legacy_remaining()
        moved = batches = last_id = 0
        with terminal_progress(desc="QoS samples", unit="row") as progress:
            while True:
                count, last_id = legacy_batch_move(batch=size, after_id=last_id)
                if not count:
                    break
                moved += count
                batches += 1
                if progress is not None:
                    progress(moved, max(total, moved))
        self.stdout.write(json.dumps({"moved": moved, "remaining": legacy_remaining(),
                                      "batches": batches}, sort_keys=True))
