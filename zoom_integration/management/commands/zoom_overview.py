"""``manage.py zoom_overview SLUG``: fetch the tenant's account overview from Zoom now.

Zoom's quality counts per day, client versions, Zoom Rooms and their issues, stored for the
admin's account overview page. A section Zoom refuses (missing scope, a plan without the
Dashboard) is recorded as such; the last line is JSON with each section's outcome.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from tenants.models import Tenant

BAD_INPUT = 2


class Command(BaseCommand):
    help = "Fetches a tenant's Zoom account overview now; the last line is JSON."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="the tenant's slug")

    def handle(self, *args, slug, **options):
        from zoom_integration.overview import overview_fetch

        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"no tenant with slug {slug!r}", returncode=BAD_INPUT)
        summary = overview_fetch(tenant=tenant)
        for section, outcome in summary["sections"].items():
            if outcome != "ok":
                self.stderr.write(f"{section}: {outcome}")
        self.stdout.write(json.dumps(summary, sort_keys=True))
