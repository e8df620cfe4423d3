"""``manage.py qos_retention [--days N]``: remove the per-minute QoS of meetings that ended more
than N days ago (default ``QOS_RETENTION_DAYS``), now, in this process.

Whole monthly partitions are dropped where the month is entirely older; the rest is deleted.
Each participant's result (classification, reason, MOS, per-stream summaries) stays, and the
meeting page says when the minute-by-minute data expired. The last line is JSON with
`meetings`, `samples_removed`, `partitions_dropped` and `cutoff`; bad input: exit 2, one line.
"""

import json
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

BAD_INPUT = 2


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise CommandError(f"--days must be a whole number of days, not {text!r}",
                           returncode=BAD_INPUT) from None
    if days < 1:
        raise CommandError("--days must be at least 1", returncode=BAD_INPUT)
    return days


class Command(BaseCommand):
    help = ("Removes the per-minute QoS samples of meetings that ended more than N days ago "
            "(default QOS_RETENTION_DAYS), keeping each participant's result; last line JSON.")

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
            self.stderr.write(f"qos_retention: {exc}")
            sys.exit(exc.returncode)

    def add_arguments(self, parser):
        parser.add_argument("--days", default=None,
                            help="days of samples kept (default QOS_RETENTION_DAYS)")

    def handle(self, *args, days, **options):
        from zoom_integration.qos_store import qos_retention

        days = _days(str(days)) if days is not None else settings.QOS_RETENTION_DAYS
        self.stdout.write(json.dumps(qos_retention(days=days), sort_keys=True))
