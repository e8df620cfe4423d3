"""Reads about tenants: host resolution, whether the credentials are in, and the URLs a customer
enters in Zoom.

This app imports nothing from zoom_integration: the URL paths come from the URLconf by name
(`reverse`), and zoom_integration/urls.py owns those names. The tenant owns the hosts, scheme
and port; the integration owns the paths.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet, TextField
from django.db.models.functions import Cast
from django.urls import reverse

from .fields import UNDECRYPTABLE_HINT, UndecryptableValueError, decrypt, is_undecryptable
from .models import Tenant, TenantDomain

# URL names of the views Zoom and the customer's browser call (zoom_integration/urls.py).
OAUTH_REDIRECT_URL_NAME = "zoom-oauth-authorize"
OAUTH_START_URL_NAME = "zoom-oauth-start"
WEBHOOK_URL_NAME = "zoom-event"


def normalize_host(host: str) -> str:
    """`Host` header to a lookup key: port dropped, case ignored, trailing dot dropped."""
    host = (host or "").strip().lower()
    if host.startswith("["):  # IPv6 literal, e.g. [::1]:8000
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0].rstrip(".") if ":" in host else host.rstrip(".")


def tenant_get_by_host(*, host: str) -> Tenant | None:
    # Domains are stored lower-case (TenantDomain.clean), so an exact match uses the index.
    domain = (TenantDomain.objects.select_related("tenant").order_by()
              .filter(domain=normalize_host(host)).first())
    return domain.tenant if domain else None


def tenant_undecryptable_secrets(*, tenant: Tenant) -> list[str]:
    """Labels of the tenant's stored secrets that the configured keys cannot decrypt."""
    return [str(Tenant._meta.get_field(name).verbose_name)
            for name in ("client_secret", "secret_token", "verification_token")
            if is_undecryptable(getattr(tenant, name))]


def tenant_webhook_secret_unreadable(*, tenant: Tenant) -> bool:
    """True when the secret that verifies this tenant's webhooks cannot be decrypted."""
    if is_undecryptable(tenant.secret_token):
        return True
    return not tenant.secret_token and is_undecryptable(tenant.verification_token)


def tenant_get_by_slug(*, slug: str) -> Tenant | None:
    """The tenant with this slug (management commands name tenants by slug)."""
    return Tenant.objects.filter(slug=slug).first()


@dataclass(frozen=True)
class ZoomSetupUrls:
    """The three values the customer types into their Zoom app, plus the link to authorize."""

    redirect_url: str | None
    allow_list_url: str | None
    event_url: str | None
    oauth_start_url: str | None


def _domains(tenant: Tenant) -> tuple[str | None, str | None]:
    primary = webhook = None
    for domain in tenant.domains.all():
        if domain.is_primary:
            primary = domain.domain
        if domain.is_webhook:
            webhook = domain.domain
    return primary, webhook


def tenant_zoom_urls(*, tenant: Tenant) -> ZoomSetupUrls:
    primary, webhook = _domains(tenant)
    scheme = settings.PORTAL_URL_SCHEME
    # scheme://host exactly (Zoom compares the redirect URL character for character); a port
    # only where one is configured (make run).
    port = f":{settings.PORTAL_URL_PORT}" if settings.PORTAL_URL_PORT else ""
    base = f"{scheme}://{primary}{port}" if primary else None
    event_host = webhook or primary
    return ZoomSetupUrls(
        redirect_url=f"{base}{reverse(OAUTH_REDIRECT_URL_NAME)}" if base else None,
        allow_list_url=base,
        event_url=(f"{scheme}://{event_host}{port}{reverse(WEBHOOK_URL_NAME)}" if event_host
                   else None),
        oauth_start_url=f"{base}{reverse(OAUTH_START_URL_NAME)}" if base else None,
    )


# --- Are the credentials in? ------------------------------------------------------------------
# The one rule, used by the tenant list, Tenant health, the setup checklist and the OAuth flow.


@dataclass(frozen=True)
class TenantCredentials:
    """Which of the values staff enter for a tenant are in place; never the values themselves.

    `None` means stored but not decryptable with the configured keys (it must be re-entered).
    `webhook_token` is the Secret Token, or for older Zoom apps the Verification Token.
    """

    client_id: bool
    client_secret: bool | None
    webhook_token: bool | None
    primary_host: bool

    @property
    def app_missing(self) -> list[str]:
        """What the OAuth flow lacks: the app's Client ID and Client Secret."""
        missing = [] if self.client_id else ["Client ID"]
        if self.client_secret is None:
            missing.append(f"Client Secret ({UNDECRYPTABLE_HINT})")
        elif not self.client_secret:
            missing.append("Client Secret")
        return missing

    @property
    def token_missing(self) -> list[str]:
        """What webhook verification lacks."""
        if self.webhook_token is None:
            return [f"Secret Token ({UNDECRYPTABLE_HINT})"]
        return [] if self.webhook_token else ["Secret Token"]

    @property
    def missing(self) -> list[str]:
        """Everything staff still have to enter, in the order the admin form asks for it."""
        host = [] if self.primary_host else ["a primary hostname"]
        return self.app_missing + self.token_missing + host

    @property
    def complete(self) -> bool:
        return not self.missing


def _present(raw: str | None) -> bool | None:
    if not raw:
        return False
    try:
        return bool(decrypt(raw))
    except UndecryptableValueError:
        return None


def credentials_annotations() -> dict:
    """Annotations for `credentials_of_row`: the raw secret columns and the primary host.

    Cast reads a column without the field's decrypting from_db_value, so an undecryptable
    value is reported on its row instead of breaking a whole page of tenants.
    """
    return {
        "cred_raw_client_secret": Cast("client_secret", output_field=TextField()),
        "cred_raw_secret_token": Cast("secret_token", output_field=TextField()),
        "cred_raw_verification_token": Cast("verification_token", output_field=TextField()),
        "cred_has_primary": Exists(TenantDomain.objects.filter(tenant=OuterRef("pk"),
                                                               is_primary=True)),
    }


def _credentials(client_id: str, raw_secret: str | None, raw_token: str | None,
                 raw_legacy: str | None, has_primary: bool) -> TenantCredentials:
    token = _present(raw_token)
    return TenantCredentials(
        client_id=bool(client_id), client_secret=_present(raw_secret),
        # Zoom retired the legacy Verification Token (2025): only the Secret Token counts.
        webhook_token=token,
        primary_host=bool(has_primary))


def credentials_of_row(row: Tenant) -> TenantCredentials:
    """The credentials of a tenant annotated with `credentials_annotations()` (no query)."""
    return _credentials(row.client_id, row.cred_raw_client_secret, row.cred_raw_secret_token,
                        row.cred_raw_verification_token, row.cred_has_primary)


_CREDENTIAL_COLUMNS = ("client_id", "cred_raw_client_secret", "cred_raw_secret_token",
                       "cred_raw_verification_token", "cred_has_primary")


def tenant_credentials(*, tenant: Tenant) -> TenantCredentials:
    """The credentials of one tenant, read fresh (one query)."""
    values = (Tenant.objects.filter(pk=tenant.pk).annotate(**credentials_annotations())
              .values_list(*_CREDENTIAL_COLUMNS).get())
    return _credentials(*values)


def tenant_ids_missing_credentials(*, tenants: QuerySet[Tenant]) -> list[int]:
    """The ids among `tenants` whose credentials are incomplete (one query)."""
    rows = (tenants.order_by().annotate(**credentials_annotations())
            .values_list("pk", *_CREDENTIAL_COLUMNS))
    return [pk for pk, *values in rows if not _credentials(*values).complete]


def secret_hint(value: str) -> str:
    """What the admin may show of a secret: that it is set, and its last four characters."""
    if is_undecryptable(value):
        return UNDECRYPTABLE_HINT
    if not value:
        return "not set"
    return f"set, ends in …{value[-4:]}" if len(value) >= 12 else "set"
