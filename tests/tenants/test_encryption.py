"""Secrets are encrypted at rest, a wrong key fails loudly, and rotation works."""

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection

from tenants.fields import UndecryptableValueError
from tenants.models import Tenant
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

SECRET = "VerySecretClientValue1234"


def raw_column(tenant_pk: int, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM tenants_tenant WHERE id = %s", [tenant_pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_secrets_are_not_stored_in_clear():
    tenant = TenantFactory(client_secret=SECRET, secret_token="TokenValueABCDEFGH",
                           verification_token="LegacyVerify12345")
    for column, plain in (("client_secret", SECRET), ("secret_token", "TokenValueABCDEFGH"),
                          ("verification_token", "LegacyVerify12345")):
        stored = raw_column(tenant.pk, column)
        assert plain not in stored
        assert stored.startswith("gAAAAA")  # Fernet token
    assert Tenant.objects.get(pk=tenant.pk).client_secret == SECRET


def test_wrong_key_raises_instead_of_returning_ciphertext(settings):
    tenant = TenantFactory(client_secret=SECRET)
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    # The row loads (the admin must list it), but the value is no text at all.
    loaded = Tenant.objects.get(pk=tenant.pk)
    assert loaded.client_secret and loaded.client_secret != raw_column(tenant.pk, "client_secret")
    for use in (str, len, lambda v: v.encode(), lambda v: f"{v}", lambda v: v[-4:]):
        with pytest.raises(UndecryptableValueError):
            use(loaded.client_secret)
    # Saving the row keeps the stored ciphertext as it was.
    before = raw_column(tenant.pk, "client_secret")
    loaded.name = "Renamed"
    loaded.save()
    assert raw_column(tenant.pk, "client_secret") == before


def test_check_names_tenant_and_field_that_cannot_be_decrypted(settings):
    TenantFactory(slug="acme", client_secret=SECRET)
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    with pytest.raises(SystemCheckError) as excinfo:
        call_command("check")
    message = str(excinfo.value)
    assert "tenant 'acme'" in message
    assert "client_secret" in message
    assert "tenants.E001" in message


def test_check_passes_with_the_right_keys():
    TenantFactory(slug="acme", client_secret=SECRET)
    out = io.StringIO()
    call_command("check", stdout=out)
    assert "no issues" in out.getvalue()


def test_rotation_new_old_then_reencrypt_then_new_alone(settings):
    old_key = settings.FIELD_ENCRYPTION_KEY[0]
    tenant = TenantFactory(client_secret=SECRET)
    before = raw_column(tenant.pk, "client_secret")
    new_key = Fernet.generate_key().decode()

    settings.FIELD_ENCRYPTION_KEY = [new_key, old_key]
    assert Tenant.objects.get(pk=tenant.pk).client_secret == SECRET
    out = io.StringIO()
    call_command("reencrypt_secrets", stdout=out)
    assert "tenants.Tenant: 1 rows" in out.getvalue()
    after = raw_column(tenant.pk, "client_secret")
    assert after != before

    settings.FIELD_ENCRYPTION_KEY = [new_key]
    assert Tenant.objects.get(pk=tenant.pk).client_secret == SECRET

    call_command("reencrypt_secrets", stdout=io.StringIO())  # idempotent
    assert Tenant.objects.get(pk=tenant.pk).client_secret == SECRET


def test_reencrypt_refuses_when_a_value_cannot_be_decrypted(settings):
    tenant = TenantFactory(client_secret=SECRET)
    before = raw_column(tenant.pk, "client_secret")
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="cannot be decrypted"):
        call_command("reencrypt_secrets", stdout=io.StringIO())
    assert raw_column(tenant.pk, "client_secret") == before
