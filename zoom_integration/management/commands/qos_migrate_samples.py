"""``manage.py qos_migrate_samples [--batch N]``: move per-minute QoS rows of the former JSON
shape into the compact table, in batches.

Each batch is one transaction that writes the compact rows and deletes the originals, so the
command can be stopped at any time and run again: it resumes with the lowest id left, and a
row is never moved twice. Values come back exactly as they were read (`qos_store.encode`
keeps whatever fits no column in `extra`). A progress bar is drawn on a terminal; the last line
is JSON with `moved`, `remaining` and `batches`; bad input: exit 2, one line.
"""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

BAD_INPUT = 2


def _batch(text: str) -> int:
    try:
        size = int(text)
    except ValueError:
        raise CommandError(f"--batch must be a whole number of rows, not {text!r}",
                           returncode=BAD_INPUT) from None
    if not 1 <= size <= 100_000:
        raise CommandError("--batch must be between 1 and 100000", returncode=BAD_INPUT)
    return size


class Command(BaseCommand):
    help = ("Moves QoS samples of the former JSON shape into the compact table in batches; "
            "resumable; last line JSON.")

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)

        def one_line_error(message):  # argparse would print the whole usage first
            raise CommandError(message, returncode=BAD_INPUT)

        parser.error = one_line_error
        return parser

    def run_from_argv(self, argv):
        try:
            super().run_from_argv(argv)
        except CommandError as exc:  # raised while parsing, outside BaseCommand's handling
            self.stderr.write(f"qos_migrate_samples: {exc}")
            sys.exit(exc.returncode)

    def add_arguments(self, parser):
        parser.add_argument("--batch", default="5000", help="rows per transaction (5000)")

    def handle(self, *args, batch, **options):
        from zoom_integration.management.progress import terminal_progress
        from zoom_integration.qos_store import legacy_batch_move, legacy_remaining

        size = _batch(str(batch))
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
