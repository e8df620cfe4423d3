"""Reads about tenants: host resolution and the URLs a customer enters in Zoom."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from .fields import UNDECRYPTABLE_HINT, is_undecryptable
from .models import Tenant, TenantDomain

# Published to customers and Zoom, so fixed; the zoom_integration URLconf serves them.
OAUTH_REDIRECT_PATH = "/adminapi/zoom/oauth/authorize"
OAUTH_START_PATH = "/adminapi/zoom/oauth/start"
WEBHOOK_PATH = "/zoom/event"


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
    # scheme://host exactly, as customers enter it in Zoom; a port only where one is
    # configured (make run).
    port = f":{settings.PORTAL_URL_PORT}" if settings.PORTAL_URL_PORT else ""
    base = f"{scheme}://{primary}{port}" if primary else None
    event_host = webhook or primary
    return ZoomSetupUrls(
        redirect_url=f"{base}{OAUTH_REDIRECT_PATH}" if base else None,
        allow_list_url=base,
        event_url=f"{scheme}://{event_host}{port}{WEBHOOK_PATH}" if event_host else None,
        oauth_start_url=f"{base}{OAUTH_START_PATH}" if base else None,
    )


def secret_hint(value: str) -> str:
    """What the admin may show of a secret: that it is set, and its last four characters."""
    if is_undecryptable(value):
        return UNDECRYPTABLE_HINT
    if not value:
        return "not set"
    return f"set, ends in …{value[-4:]}" if len(value) >= 12 else "set"
