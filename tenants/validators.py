"""Validators for what staff type into a tenant: hostnames, Zoom tokens, Installation URLs."""

import re
from urllib.parse import parse_qs, urlsplit

from django.core.exceptions import ValidationError

_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TOKEN = re.compile(r"^[A-Za-z0-9_\-.~+/=]{8,128}$")


def validate_hostname(value: str) -> None:
    host = (value or "").strip().lower().rstrip(".")
    if not host or len(host) > 253 or ":" in host or "/" in host:
        raise ValidationError(
            "Enter a hostname only, without scheme, port or path (e.g. acme.portal.example).",
            code="invalid_hostname")
    if not all(_HOST_LABEL.match(label) for label in host.split(".")):
        raise ValidationError(
            "'%(host)s' is not a valid hostname: use letters, digits, '-' and dots.",
            params={"host": host}, code="invalid_hostname")


def validate_zoom_token(value: str) -> None:
    if value and not _TOKEN.match(value):
        raise ValidationError(
            "This does not look like a Zoom credential: expected 8 to 128 letters, digits or "
            "'-_.~+/=' with no spaces. Copy it again from the Zoom app.", code="invalid_token")


def validate_installation_url(url: str, *, oauth_base_url: str, client_id: str) -> None:
    """The Installation URL must be Zoom's https authorize URL for this very app."""
    if not url:
        return
    parts = urlsplit(url)
    expected = urlsplit(oauth_base_url)
    if parts.scheme != "https" and expected.scheme == "https":
        raise ValidationError("The Installation URL must start with https://.",
                              code="installation_url_scheme")
    same_host = parts.netloc.lower() == expected.netloc.lower()
    if not same_host or parts.path.rstrip("/") != "/oauth/authorize":
        raise ValidationError(
            "The Installation URL must be Zoom's %(expected)s/oauth/authorize?... link "
            "from the app's page.", params={"expected": oauth_base_url},
            code="installation_url_host")
    given = parse_qs(parts.query).get("client_id", [""])[0]
    if not given:
        raise ValidationError("The Installation URL has no client_id parameter.",
                              code="installation_url_client_id")
    if client_id and given != client_id:
        raise ValidationError(
            "The Installation URL is for client_id %(given)s, but this tenant's Client ID is "
            "%(ours)s.", params={"given": given, "ours": client_id},
            code="installation_url_client_id")
