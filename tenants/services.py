"""Writes about tenants: create/update from a script, and re-encryption after key rotation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction

from .fields import SecretCharField, SecretTextField, is_undecryptable, reencrypt
from .models import Tenant, TenantDomain
from .validators import validate_installation_url

SECRET_KEYS = ("client_id", "client_secret", "secret_token", "verification_token",
               "installation_url")
#: Keys of tenant_upsert's stdin JSON that are not secrets, and the fields they set.
PLAIN_KEYS = {"zoom_account_id": "expected_zoom_account_id"}
CREDENTIAL_KEYS = (*SECRET_KEYS, *PLAIN_KEYS)


def tenant_full_clean(*, tenant: Tenant) -> None:
    """Model validation plus the rule that spans fields: the Installation URL's client_id.

    A secret the configured keys cannot decrypt is left as stored and not validated.
    """
    tenant.full_clean(exclude=undecryptable_fields(tenant=tenant))
    try:
        validate_installation_url(tenant.installation_url,
                                  oauth_base_url=settings.ZOOM_OAUTH_BASE_URL,
                                  client_id=tenant.client_id)
    except ValidationError as exc:
        raise ValidationError({"installation_url": exc.messages}) from exc


def undecryptable_fields(*, tenant: Tenant) -> list[str]:
    return [f.name for f in tenant._meta.concrete_fields
            if isinstance(f, SecretCharField) and is_undecryptable(getattr(tenant, f.name))]


@transaction.atomic
def tenant_upsert(
    *,
    slug: str,
    name: str | None = None,
    domains: Iterable[str] = (),
    primary_domain: str | None = None,
    webhook_domain: str | None = None,
    credentials: Mapping[str, str] | None = None,
) -> tuple[Tenant, bool]:
    """Create or update a tenant; all-or-nothing. Returns (tenant, created).

    `credentials` holds any of CREDENTIAL_KEYS (`zoom_account_id` is the account staff expect,
    not a secret); absent keys keep their stored values.
    Domains are added (never removed here); the primary and webhook flags move as asked.
    """
    credentials = dict(credentials or {})
    unknown = sorted(set(credentials) - set(CREDENTIAL_KEYS))
    if unknown:
        raise ValidationError(f"unknown credential key(s): {', '.join(unknown)}; "
                              f"expected some of {', '.join(CREDENTIAL_KEYS)}")
    for key, value in credentials.items():
        if not isinstance(value, str):
            raise ValidationError(f"credential '{key}' must be a string")

    tenant = Tenant.objects.select_for_update().filter(slug=slug).first()
    created = tenant is None
    if created:
        tenant = Tenant(slug=slug, name=name or slug)
    elif name:
        tenant.name = name
    for key, value in credentials.items():
        setattr(tenant, PLAIN_KEYS.get(key, key), value.strip())
    tenant_full_clean(tenant=tenant)
    tenant.save()

    wanted = [d for d in [*domains, primary_domain, webhook_domain] if d]
    for host in dict.fromkeys(h.strip().lower().rstrip(".") for h in wanted):
        domain = TenantDomain.objects.filter(domain__iexact=host).first()
        if domain and domain.tenant_id != tenant.pk:
            raise ValidationError(f"hostname {host} already belongs to tenant "
                                  f"'{domain.tenant.slug}'")
        if domain is None:
            domain = TenantDomain(tenant=tenant, domain=host)
            domain.full_clean()
            domain.save()
    _flag_domain(tenant=tenant, host=primary_domain, flag="is_primary")
    _flag_domain(tenant=tenant, host=webhook_domain, flag="is_webhook")
    if primary_domain is None and not tenant.domains.filter(is_primary=True).exists():
        first = tenant.domains.order_by("pk").first()
        if first:
            first.is_primary = True
            first.save(update_fields=["is_primary"])
    return tenant, created


def _flag_domain(*, tenant: Tenant, host: str | None, flag: str) -> None:
    if not host:
        return
    host = host.strip().lower().rstrip(".")
    tenant.domains.exclude(domain=host).filter(**{flag: True}).update(**{flag: False})
    tenant.domains.filter(domain=host).update(**{flag: True})


def _encrypted_fields() -> list[tuple[type[models.Model], models.Field]]:
    found = []
    for model in apps.get_models():
        if model._meta.proxy:  # same table as its concrete model
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, SecretCharField | SecretTextField):
                found.append((model, field))
    return found


@dataclass
class ReencryptionCounts:
    rows: int = 0
    values: int = 0


def secrets_reencrypt() -> dict[str, ReencryptionCounts]:
    """Re-encrypt every encrypted column under the first key; idempotent.

    Works on raw column values (no decryption into model instances), each model in one
    transaction: a value no key can decrypt aborts that model's rewrite with an error naming it.
    """
    counts: dict[str, ReencryptionCounts] = {}
    by_model: dict[type[models.Model], list[models.Field]] = {}
    for model, field in _encrypted_fields():
        by_model.setdefault(model, []).append(field)
    for model, fields in by_model.items():
        label = model._meta.label
        tally = counts.setdefault(label, ReencryptionCounts())
        table = connection.ops.quote_name(model._meta.db_table)
        pk = connection.ops.quote_name(model._meta.pk.column)
        columns = [connection.ops.quote_name(f.column) for f in fields]
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {pk}, {', '.join(columns)} FROM {table}")  # noqa: S608
                rows = cursor.fetchall()
            for row in rows:
                new_values = [reencrypt(v) if v is not None else None for v in row[1:]]
                assignments = ", ".join(f"{c} = %s" for c in columns)
                with connection.cursor() as cursor:
                    cursor.execute(f"UPDATE {table} SET {assignments} WHERE {pk} = %s",  # noqa: S608
                                   [*new_values, row[0]])
                tally.rows += 1
                tally.values += sum(v is not None for v in new_values)
    return counts


@dataclass(frozen=True)
class UndecryptableValue:
    model_label: str
    pk: object
    field: str
    tenant_id: int | None  # the owning tenant, for models that belong to one


def undecryptable_values() -> list[UndecryptableValue]:
    """Every stored value that no configured key decrypts, read from the raw columns."""
    from .fields import UndecryptableValueError, decrypt

    bad = []
    for model, field in _encrypted_fields():
        table = connection.ops.quote_name(model._meta.db_table)
        pk = connection.ops.quote_name(model._meta.pk.column)
        column = connection.ops.quote_name(field.column)
        if model is Tenant:
            owner = pk
        elif any(f.name == "tenant" for f in model._meta.concrete_fields):
            owner = connection.ops.quote_name(model._meta.get_field("tenant").column)
        else:
            owner = "NULL"
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {pk}, {owner}, {column} FROM {table} "  # noqa: S608
                           f"WHERE {column} IS NOT NULL")
            rows = cursor.fetchall()
        for pk_value, tenant_id, value in rows:
            try:
                decrypt(value)
            except UndecryptableValueError:
                bad.append(UndecryptableValue(model._meta.label, pk_value, field.name, tenant_id))
    return bad
