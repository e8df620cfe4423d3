"""`manage.py check`: every stored secret must decrypt with the configured keys.

Without this, a wrong FIELD_ENCRYPTION_KEY shows up only when a worker first needs a token.
"""

from django.core import checks
from django.db import DatabaseError


@checks.register()
def stored_secrets_decrypt(app_configs=None, **kwargs):
    from .models import Tenant
    from .services import undecryptable_values

    try:
        bad = undecryptable_values()
    except DatabaseError:
        return []  # not migrated yet, or no database: nothing stored to check
    errors = []
    slugs = dict(Tenant.objects.values_list("pk", "slug"))
    for value in bad:
        owner = f"tenant '{slugs.get(value.tenant_id, value.tenant_id)}'"
        if value.model_label != "tenants.Tenant":
            owner += f" ({value.model_label} #{value.pk})"
        errors.append(checks.Error(
            f"{owner}: field '{value.field}' cannot be decrypted with any key in "
            "FIELD_ENCRYPTION_KEY.",
            hint="Add the key it was encrypted with (FIELD_ENCRYPTION_KEY=new,old), then run "
                 "`manage.py reencrypt_secrets`.",
            id="tenants.E001",
        ))
    return errors
