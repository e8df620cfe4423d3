"""tenants.fields details that mutation testing found untested: what an unreadable stored value
says when it refuses, how it compares, what optional-hook probing sees, and its repr.

Fast enough for `make mutate` (one tenant row at most, no pages).
"""

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError

from tenants.fields import UndecryptableSecret, UndecryptableValueError, decrypt, encrypt
from tenants.models import Tenant
from tests.factories import TenantFactory

# What an operator reads when a stored value cannot be decrypted: it names the setting to fix.
REFUSAL = "stored value cannot be decrypted with any key in FIELD_ENCRYPTION_KEY"


@pytest.fixture
def unreadable(settings):
    """A value encrypted under a key that is no longer configured, as loaded from a row."""
    ciphertext = encrypt("SecretUnderAnOldKey0123")
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    return UndecryptableSecret(ciphertext)


def test_using_an_unreadable_value_as_text_says_which_setting_to_fix(unreadable):
    for use in (str, len, lambda v: v.strip(), lambda v: f"{v}"):
        with pytest.raises(UndecryptableValueError) as excinfo:
            use(unreadable)
        assert str(excinfo.value) == REFUSAL


def test_decrypting_under_a_key_no_longer_configured_says_which_setting_to_fix(settings):
    ciphertext = encrypt("SecretUnderAnOldKey0123")
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    with pytest.raises(UndecryptableValueError) as excinfo:
        decrypt(ciphertext)
    assert str(excinfo.value) == REFUSAL


@pytest.mark.django_db
def test_reencrypt_secrets_says_which_setting_to_fix(settings):
    TenantFactory(client_secret="VerySecretClientValue1234")
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError) as excinfo:
        call_command("reencrypt_secrets", stdout=io.StringIO())
    assert str(excinfo.value).startswith(f"{REFUSAL}; add the old key after the new one")


def test_unreadable_values_are_equal_only_with_the_same_ciphertext():
    first, again, other = (UndecryptableSecret("gAAAAAone"), UndecryptableSecret("gAAAAAone"),
                           UndecryptableSecret("gAAAAAtwo"))
    assert first == again
    assert first != other
    assert first != "gAAAAAone"  # never equal to any text, its own ciphertext included
    assert {first, again, other} == {first, other}


def test_probing_an_unreadable_value_for_optional_attributes_finds_none(unreadable):
    # Django, copy and pickle ask for optional hooks with hasattr()/getattr(default): dunder
    # names that str's type carries (__name__, __dict__) must read as absent, not refuse.
    assert not hasattr(unreadable, "__name__")
    assert getattr(unreadable, "__dict__", None) is None
    with pytest.raises(AttributeError, match="^no_such_hook$"):
        unreadable.no_such_hook  # noqa: B018 - the error names the missing attribute
    with pytest.raises(UndecryptableValueError):
        unreadable.encode()  # a text method is a use as text: refused


@pytest.mark.django_db
def test_an_unreadable_value_shows_its_kind_and_never_its_ciphertext(settings):
    tenant = TenantFactory(client_secret="VerySecretClientValue1234")
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    loaded = Tenant.objects.get(pk=tenant.pk).client_secret
    assert isinstance(loaded, UndecryptableSecret)
    # repr is what debug pages and tracebacks print for the field.
    assert repr(loaded) == "<UndecryptableSecret>"


def test_to_python_leaves_none_text_and_unreadable_values_alone_and_makes_text_of_the_rest():
    from tenants.fields import SecretCharField

    field = SecretCharField(max_length=50)
    unreadable = UndecryptableSecret("gAAAA-not-ours")
    assert field.to_python(None) is None  # an empty secret stays empty, not "None"
    assert field.to_python("s3cret") == "s3cret"
    assert field.to_python(unreadable) is unreadable
    assert field.to_python(12345) == "12345"


def test_keys_given_as_one_comma_separated_text_are_read_in_order(settings):
    # FIELD_ENCRYPTION_KEY=NEW,OLD from the environment: the first encrypts, all decrypt.
    from tenants.fields import configured_keys

    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = f"{new},{old},"
    assert configured_keys() == (new, old)
    settings.FIELD_ENCRYPTION_KEY = [new]
    assert configured_keys() == (new,)
