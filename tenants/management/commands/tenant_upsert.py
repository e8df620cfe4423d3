"""`tenant_upsert`: create or update a tenant from a script; secrets only on stdin, as JSON."""

import json
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants.selectors import secret_hint, tenant_zoom_urls
from tenants.services import CREDENTIAL_KEYS, tenant_upsert

BAD_INPUT = 2


class Command(BaseCommand):
    stealth_options = ("stdin",)
    help = ("Create or update a tenant. Credentials come as a JSON object on stdin "
            f"(keys: {', '.join(CREDENTIAL_KEYS)}; absent keys stay as they are).")

    def add_arguments(self, parser):
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name")
        parser.add_argument("--domain", action="append", default=[], dest="domains",
                            help="A hostname of this tenant; repeat for several.")
        parser.add_argument("--primary-domain")
        parser.add_argument("--webhook-domain")

    def handle(self, *args, slug, name, domains, primary_domain, webhook_domain, **options):
        credentials = self._read_credentials(options.get("stdin") or sys.stdin)
        try:
            tenant, created = tenant_upsert(
                slug=slug, name=name, domains=domains, primary_domain=primary_domain,
                webhook_domain=webhook_domain, credentials=credentials)
        except ValidationError as exc:
            raise CommandError(f"nothing changed: {_one_line(exc)}", returncode=BAD_INPUT) from None
        urls = tenant_zoom_urls(tenant=tenant)
        self.stdout.write(f"{'created' if created else 'updated'} tenant '{tenant.slug}' "
                          f"({tenant.name})")
        hostnames = ", ".join(d.domain for d in tenant.domains.all()) or "-"
        self.stdout.write(f"  hostnames: {hostnames}")
        for field in ("client_secret", "secret_token", "verification_token"):
            self.stdout.write(f"  {field}: {secret_hint(getattr(tenant, field))}")
        self.stdout.write(f"  client_id: {tenant.client_id or 'not set'}")
        self.stdout.write(f"  expected Zoom account: {tenant.expected_zoom_account_id or 'any'}")
        self.stdout.write(f"  redirect URL: {urls.redirect_url or '-'}")
        self.stdout.write(f"  allow list: {urls.allow_list_url or '-'}")
        self.stdout.write(f"  event endpoint URL: {urls.event_url or '-'}")

    def _read_credentials(self, stdin) -> dict:
        if stdin is None or stdin.isatty():
            return {}
        raw = stdin.read()
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise CommandError(f"stdin is not valid JSON ({exc.msg} at line {exc.lineno}); "
                               "nothing changed", returncode=BAD_INPUT) from None
        if not isinstance(data, dict):
            raise CommandError("stdin must be a JSON object of credentials; nothing changed",
                               returncode=BAD_INPUT)
        return data


def _one_line(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {' '.join(messages)}"
                         for field, messages in exc.message_dict.items())
    return " ".join(exc.messages)
