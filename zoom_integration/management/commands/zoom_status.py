"""``manage.py zoom_status [SLUG]... [--json]``: each tenant's health, one line per tenant.

The health is the one the staff pages show (`selectors.health`), as a short word. With
``--json`` the last output line is a JSON list of objects with `slug`, `health`, `label`,
`reason`, `zoom_account_id`, `scope_kind`, `missing_scopes` (names in the app's kind) and
`optional_missing_scopes`. An unknown slug: one line, exit status 1.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from tenants.models import Tenant
from zoom_integration.capabilities import connection_capability_state
from zoom_integration.selectors.health import HealthCode, health_from_row, tenant_health_overview

# The health states as the short words scripts read.
HEALTH_WORDS = {
    HealthCode.HEALTHY: "connected",
    HealthCode.NEEDS_REAUTH: "needs_reauthorization",
    HealthCode.MISSING_SCOPES: "missing_scopes",
    HealthCode.DEAUTHORIZED: "deauthorized",
    HealthCode.NEEDS_CREDENTIALS: "needs_credentials",
    HealthCode.AWAITING_VALIDATION: "awaiting_validation",
    HealthCode.AWAITING_AUTHORIZATION: "not_connected",
    HealthCode.ERRORS: "errors",
}


class Command(BaseCommand):
    help = "Shows each tenant's Zoom health in one line (or as JSON with --json)."

    def add_arguments(self, parser):
        parser.add_argument("slugs", nargs="*", metavar="SLUG",
                            help="tenants to show (default: every tenant)")
        parser.add_argument("--json", action="store_true", dest="as_json",
                            help="end with one JSON line: a list of objects")

    def handle(self, *args, slugs, as_json, **options):
        wanted = list(dict.fromkeys(s.strip() for s in slugs))
        base = Tenant.objects.filter(slug__in=wanted) if wanted else Tenant.objects.all()
        rows = list(tenant_health_overview(base=base).order_by("slug"))
        unknown = sorted(set(wanted) - {row.slug for row in rows})
        if unknown:
            raise CommandError("no tenant with slug " + ", ".join(repr(s) for s in unknown))
        report = [self._entry(row) for row in rows]
        for entry in report:
            missing = " ".join(entry["missing_scopes"]) or "-"
            self.stdout.write(f"{entry['slug']}\t{entry['health']}\t"
                              f"{entry['zoom_account_id'] or '-'}\tmissing: {missing}")
        if as_json:
            self.stdout.write(json.dumps(report, sort_keys=True))

    @staticmethod
    def _entry(row: Tenant) -> dict:
        health = health_from_row(row)
        conn = getattr(row, "zoom_connection", None)
        capabilities = connection_capability_state(conn)
        connected = conn is not None and bool(conn.authorized_at or conn.scopes
                                              or conn.missing_capabilities)
        return {
            "slug": row.slug,
            "health": HEALTH_WORDS.get(health.code, health.code),
            "label": health.label,
            "reason": health.reason,
            "zoom_account_id": row.zoom_account_id or "",
            # Scope facts exist only once the customer has authorized.
            "scope_kind": capabilities.kind if connected else "",
            "missing_scopes": capabilities.missing_names if connected else [],
            "optional_missing_scopes": capabilities.optional_names if connected else [],
        }
