"""`reencrypt_secrets`: rewrite every encrypted value under the first FIELD_ENCRYPTION_KEY."""

from django.core.management.base import BaseCommand, CommandError

from tenants.fields import UndecryptableValueError
from tenants.services import secrets_reencrypt


class Command(BaseCommand):
    help = ("Re-encrypt every encrypted value with the first key of FIELD_ENCRYPTION_KEY. "
            "Idempotent. Rotate with FIELD_ENCRYPTION_KEY=new,old, run this, then drop old.")

    def handle(self, *args, **options):
        try:
            counts = secrets_reencrypt()
        except UndecryptableValueError as exc:
            raise CommandError(f"{exc}; add the old key after the new one and run again "
                               "(models already done keep their new encryption)") from None
        total = sum(c.values for c in counts.values())
        for label, tally in sorted(counts.items()):
            self.stdout.write(f"{label}: {tally.rows} rows, {tally.values} values re-encrypted")
        self.stdout.write(f"done: {total} values now encrypted with the first key")
