"""``manage.py zoom_reconcile SLUG [--days N]``: compare with Zoom's lists of past meetings and
webinars now, in this process, and fetch what was never stored.

Lists the last N days (default 1; at most what Zoom's Dashboard keeps, about six months), plus
any window still pending for the tenant (a backfill, the rest after a rate-limit stop). A
progress bar is drawn on a terminal; the last line is JSON with `listed`, `missing`, `queued`.
"""

import json

from django.core.management.base import CommandError

from tenants.models import Tenant
from zoom_integration.management.base import BAD_INPUT, OneLineCommand, whole_number
from zoom_integration.management.progress import terminal_progress


class Command(OneLineCommand):
    help = ("Lists a tenant's past meetings and webinars of the last N days from Zoom's "
            "Dashboard and fetches those never stored; the last line is JSON.")

    def add_arguments(self, parser):
        parser.add_argument("slug", help="the tenant's slug")
        parser.add_argument("--days", default="1", help="days back from today (default 1)")

    def handle(self, *args, slug, days, **options):
        from zoom_integration.backfill import MAX_LOOKBACK_DAYS
        from zoom_integration.reconcile import ReconcileBusyError, reconcile_run

        days = whole_number(str(days), option="--days", unit="days")
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"no tenant with slug {slug!r}", returncode=BAD_INPUT)
        if days > MAX_LOOKBACK_DAYS:
            self.stderr.write(f"Zoom's lists reach about {MAX_LOOKBACK_DAYS} days back; "
                              f"listing {MAX_LOOKBACK_DAYS}.")
        try:
            with terminal_progress(desc=f"reconcile {slug}", unit="window") as progress:
                summary = reconcile_run(tenant=tenant, days=days, origin="command",
                                        progress=progress)
        except ReconcileBusyError as exc:
            raise CommandError(f"{exc}; try again when it has finished") from None
        if summary["stopped"] == "daily_limit":
            self.stderr.write(f"Zoom's daily limit was reached: {summary['windows_left']} "
                              f"window(s) wait for the reset ({summary['resume_at']}) and "
                              "continue then by themselves.")
        elif summary["stopped"]:
            self.stderr.write(f"stopped early ({summary['stopped']}): "
                              f"{summary['windows_left']} window(s) left for the next run.")
        for error in summary["errors"]:
            self.stderr.write(f"note: {error}")
        self.stdout.write(json.dumps(summary, sort_keys=True))
