"""``manage.py qos_retention [--days N]``: remove the per-minute QoS of meetings that ended more
than N days ago (default ``QOS_RETENTION_DAYS``), now, in this process.

Whole monthly partitions are dropped where the month is entirely older; the rest is deleted.
Each participant's result (classification, reason, MOS, per-stream summaries) stays, and the
meeting page says when the minute-by-minute data expired. The last line is JSON with
`meetings`, `samples_removed`, `partitions_dropped` and `cutoff`; bad input: exit 2, one line.
"""

import json

from django.conf import settings

from zoom_integration.management.base import OneLineCommand, whole_number


class Command(OneLineCommand):
    help = ("Removes the per-minute QoS samples of meetings that ended more than N days ago "
            "(default QOS_RETENTION_DAYS), keeping each participant's result; last line JSON.")

    def add_arguments(self, parser):
        parser.add_argument("--days", default=None,
                            help="days of samples kept (default QOS_RETENTION_DAYS)")

    def handle(self, *args, days, **options):
        from zoom_integration.qos_store import qos_retention

        days = (settings.QOS_RETENTION_DAYS if days is None
                else whole_number(str(days), option="--days", unit="days"))
        self.stdout.write(json.dumps(qos_retention(days=days), sort_keys=True))
