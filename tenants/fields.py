"""Encrypted model fields that never pass ciphertext off as a secret: the only code that decrypts.

django-encrypted-model-fields stores Fernet ciphertext, but its `to_python` swallows
`InvalidToken` and hands back the ciphertext as if it were the secret, and it reads its key
once at import. These subclasses (a) load a stored value that no configured key decrypts as an
`UndecryptableSecret`: the row still loads (the admin can list it and staff can type a new
value), but any attempt to use the value as text raises `UndecryptableValueError`, and saving
the row writes the original ciphertext back unchanged; (b) build the MultiFernet from the
current `settings.FIELD_ENCRYPTION_KEY` (cached per key list), so rotation and tests that
change keys behave.
"""

from __future__ import annotations

import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from encrypted_model_fields.fields import EncryptedCharField, EncryptedTextField


class UndecryptableValueError(Exception):
    """A stored secret could not be decrypted with any key in FIELD_ENCRYPTION_KEY."""


UNDECRYPTABLE_HINT = "cannot be decrypted with the configured keys: re-enter it"


class UndecryptableSecret:
    """A stored value that no key in FIELD_ENCRYPTION_KEY decrypts: set, but unusable.

    Truthy (something is stored), never equal to any text, and every use as text (str(),
    formatting, `.encode()`, slicing, len()) raises UndecryptableValueError, so no code can
    mistake it for the secret or for "not set".
    """

    __slots__ = ("ciphertext",)

    def __init__(self, ciphertext: str):
        self.ciphertext = ciphertext

    def _refuse(self, *args, **kwargs):
        raise UndecryptableValueError(
            "stored value cannot be decrypted with any key in FIELD_ENCRYPTION_KEY")

    __str__ = __format__ = __len__ = __getitem__ = __iter__ = __add__ = __radd__ = _refuse

    def __getattr__(self, name):
        # Text methods (.encode(), .strip(), ...) refuse; anything else is simply absent, so
        # Django, copy and pickle probing for optional hooks (hasattr) carry on.
        if name.startswith("__") or not hasattr(str, name):
            raise AttributeError(name)
        return self._refuse()

    def __bool__(self):
        return True

    def __eq__(self, other):
        return isinstance(other, UndecryptableSecret) and other.ciphertext == self.ciphertext

    def __hash__(self):
        return hash(self.ciphertext)

    def __repr__(self):
        return "<UndecryptableSecret>"


def is_undecryptable(value) -> bool:
    return isinstance(value, UndecryptableSecret)


@functools.lru_cache(maxsize=8)
def _crypter_for(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is empty.")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY must be comma-separated Fernet keys (32 url-safe base64 bytes)."
        ) from exc


def configured_keys() -> tuple[str, ...]:
    keys = settings.FIELD_ENCRYPTION_KEY
    if isinstance(keys, str):
        keys = [key for key in keys.split(",") if key]
    return tuple(keys)


def crypter() -> MultiFernet:
    return _crypter_for(configured_keys())


def encrypt(plaintext: str) -> str:
    return crypter().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(ciphertext: str) -> str:
    try:
        return crypter().decrypt(ciphertext.encode("utf-8")).decode("utf-8")
    except InvalidToken as exc:
        raise UndecryptableValueError(
            "stored value cannot be decrypted with any key in FIELD_ENCRYPTION_KEY"
        ) from exc


def reencrypt(ciphertext: str) -> str:
    """Re-encrypt under the first key; raises UndecryptableValueError like `decrypt`."""
    try:
        return crypter().rotate(ciphertext.encode("utf-8")).decode("ascii")
    except InvalidToken as exc:
        raise UndecryptableValueError(
            "stored value cannot be decrypted with any key in FIELD_ENCRYPTION_KEY"
        ) from exc


class _LoudEncryptedMixin:
    """Values from the database are always ciphertext: decrypt them, or mark them unusable."""

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        try:
            return decrypt(value)
        except UndecryptableValueError:
            return UndecryptableSecret(value)

    def to_python(self, value):
        # Called by forms and `full_clean` with plaintext, never with database values.
        if value is None or isinstance(value, str | UndecryptableSecret):
            return value
        return str(value)

    def get_db_prep_save(self, value, connection):
        if value is None:
            return None
        if isinstance(value, UndecryptableSecret):
            return value.ciphertext  # kept as stored until staff enter a new value
        return encrypt(str(value))


class SecretCharField(_LoudEncryptedMixin, EncryptedCharField):
    """A short secret (client secret, tokens), Fernet-encrypted at rest."""


class SecretTextField(_LoudEncryptedMixin, EncryptedTextField):
    """A long secret (OAuth access and refresh tokens), Fernet-encrypted at rest."""
