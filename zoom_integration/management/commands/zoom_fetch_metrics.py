"""``manage.py zoom_fetch_metrics SLUG (--meeting UUID | --webinar UUID)``: one instance's
dashboard data, now, in this process. The last output line is one JSON object with at least
`participants` (people: one person's join sessions grouped, waiting-room stints left out),
`sessions`, `qos_samples`, `poor_participants` (people) and `qos_warnings` (QoS blocks skipped
as unreadable)."""

import json

from django.core.management.base import BaseCommand, CommandError

from tenants.selectors import tenant_get_by_slug
from zoom_integration.exceptions import (
    ReauthorizationRequiredError,
    ZoomDashboardUnavailableError,
    ZoomError,
    ZoomNotFoundError,
    ZoomScopeMissingError,
)
from zoom_integration.management.progress import terminal_progress


class Command(BaseCommand):
    help = "Fetches one meeting's or webinar's dashboard data (participants and QoS) now."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="the tenant's slug")
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--meeting", metavar="UUID", help="a meeting instance UUID")
        target.add_argument("--webinar", metavar="UUID", help="a webinar instance UUID")

    def handle(self, *args, slug, meeting, webinar, **options):
        from zoom_integration.metrics import dashboard_metrics_fetch
        from zoom_integration.models import ZoomMeeting

        tenant = tenant_get_by_slug(slug=slug)
        if tenant is None:
            raise CommandError(f"no tenant with slug {slug!r}")
        kind, uuid = ("webinar", webinar) if webinar else ("meeting", meeting)
        uuid = (uuid or "").strip()
        if not uuid or len(uuid) > 128:
            raise CommandError("the UUID must be 1 to 128 characters")
        record, created = ZoomMeeting.objects.get_or_create(
            tenant=tenant, uuid=uuid, defaults={"kind": kind})
        if record.kind != kind:
            raise CommandError(f"{uuid} is recorded as a {record.kind}, not a {kind}")
        try:
            with terminal_progress(desc=f"QoS {uuid}", unit="participant") as progress:
                summary = dashboard_metrics_fetch(tenant=tenant, meeting=record,
                                                  progress=progress)
        except (ZoomError, ReauthorizationRequiredError) as exc:
            if created:
                record.delete()
            if isinstance(exc, ZoomScopeMissingError):
                # Recorded like the worker's fetch does, so Tenant health shows the gap.
                from zoom_integration.capabilities import scope_missing_record

                message = scope_missing_record(tenant=tenant, error=exc)
            elif isinstance(exc, ZoomNotFoundError):
                message = f"Zoom has no dashboard data for {kind} {uuid} (unknown or not ready)"
            elif isinstance(exc, ZoomDashboardUnavailableError):
                message = "this Zoom account's plan has no Dashboard (Business or higher needed)"
            else:
                message = f"fetch failed: {type(exc).__name__}: {exc}"
            raise CommandError(message) from None
        self.stdout.write(json.dumps(summary, sort_keys=True))
