"""`webhook_reprocess (--failed | --ids ID...)`: processes stored deliveries again, here and now.

Runs in this process, so it works while the worker or the broker is away. A transient error
leaves the delivery pending for the worker's retry and the sweeper.
"""


from django.core.management.base import CommandError

from nectar_portal.display import counted
from zoom_integration.management.base import BAD_INPUT, OneLineCommand


class Command(OneLineCommand):
    usage_hint = "(use --failed or --ids ID...)"
    help = "Processes stored Zoom webhook deliveries again: every failed one, or the given ids."

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--failed", action="store_true",
                           help="Every delivery whose processing failed.")
        which.add_argument("--ids", nargs="+", type=int, metavar="ID",
                           help="These deliveries, whatever their status.")

    def handle(self, *args, failed, ids, **options):
        from zoom_integration.exceptions import RetryLater
        from zoom_integration.models import ZoomWebhookDelivery
        from zoom_integration.webhooks.process import (
            webhook_deliveries_requeue,
            webhook_delivery_process,
        )

        if ids:
            unknown = sorted(set(ids) - set(ZoomWebhookDelivery.objects.filter(pk__in=ids)
                                            .values_list("pk", flat=True)))
            if unknown:
                raise CommandError(f"no webhook delivery with id {', '.join(map(str, unknown))}; "
                                   "nothing done", returncode=BAD_INPUT)
        chosen = webhook_deliveries_requeue(delivery_ids=ids, failed=failed)
        if ids and len(chosen) < len(set(ids)):
            busy = sorted(set(ids) - set(chosen))
            self.stdout.write(f"left alone (being processed now): {', '.join(map(str, busy))}")
        retrying = 0
        for delivery_id in chosen:
            try:
                webhook_delivery_process(delivery_id=delivery_id)
            except RetryLater:
                retrying += 1
        statuses = dict.fromkeys(("processed", "ignored", "failed", "pending"), 0)
        for status in ZoomWebhookDelivery.objects.filter(pk__in=chosen).values_list(
                "status", flat=True):
            statuses[status] = statuses.get(status, 0) + 1
        summary = ", ".join(f"{count} {status}" for status, count in statuses.items())
        self.stdout.write(f"reprocessed {counted(len(chosen), 'delivery', 'deliveries')}: {summary}"
                          + (f" ({retrying} will be retried by the worker)" if retrying else ""))
        if statuses["failed"]:
            failed = counted(statuses["failed"], "delivery", "deliveries")
            raise CommandError(f"{failed} failed again; see the last error in the admin",
                               returncode=1)
