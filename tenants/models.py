"""Tenant records: one per customer, with the credentials of the customer's private Zoom app.

Thin models: fields, constraints and `clean`. Business logic lives in services/selectors.
"""

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower

from .fields import SecretCharField
from .validators import validate_hostname, validate_zoom_token

# Zoom client IDs are url-safe alphanumerics (e.g. "aBcD1234eFgH5678IjKl"); generous bounds.
client_id_validator = RegexValidator(
    r"^[A-Za-z0-9_-]{10,64}$",
    "A Zoom Client ID is 10 to 64 letters, digits, '-' or '_' (copy it from the app's "
    "App Credentials page).",
)


class ZoomPlan(models.TextChoices):
    """The customer's Zoom plan: it sets the account's API rate limits (docs/zoom.md)."""

    PRO = "pro", "Pro"
    BUSINESS = "business", "Business, Education, Enterprise or higher"


class Tenant(models.Model):
    slug = models.SlugField(max_length=64, unique=True,
                            help_text="Short identifier used by commands, e.g. 'acme'.")
    name = models.CharField(max_length=200)
    # Named for the admin's filter heading and column ("By active", not "By is active").
    is_active = models.BooleanField(
        "active", default=True,
        help_text="Inactive tenants get no scheduled syncs and no metrics fetches.")
    notes = models.TextField(blank=True)

    # The customer's private, account-level Zoom OAuth app (App Marketplace > Manage).
    client_id = models.CharField(
        "Client ID", max_length=64, blank=True, validators=[client_id_validator],
        help_text="From the Zoom app's App Credentials page.")
    client_secret = SecretCharField(
        "Client Secret", max_length=128, blank=True, default="",
        validators=[validate_zoom_token],
        help_text="From the Zoom app's App Credentials page. Encrypted at rest; write-only.")
    secret_token = SecretCharField(
        "Secret Token", max_length=128, blank=True, default="",
        validators=[validate_zoom_token],
        help_text="From the app's Feature > Access page; signs every webhook. Write-only.")
    verification_token = SecretCharField(
        "Verification Token (legacy)", max_length=128, blank=True, default="",
        validators=[validate_zoom_token],
        help_text="Only for older apps without a Secret Token. Write-only.")
    installation_url = models.URLField(
        "Installation URL", max_length=2000, blank=True,
        help_text="The app's Authorization URL, from its Local Test or Activation page.")

    zoom_account_id = models.CharField(
        "Zoom account ID", max_length=64, blank=True, db_index=True,
        help_text="Learned from /users/me when the customer authorizes; webhooks must match it.")
    expected_zoom_account_id = models.CharField(
        "Expected Zoom account ID", max_length=64, blank=True,
        validators=[RegexValidator(r"^[A-Za-z0-9_-]{1,64}$",
                                   "A Zoom account ID is letters, digits, '-' or '_'.")],
        help_text="Optional. The customer's Zoom account ID (Zoom: Admin > Account Management "
                  "> Account Profile). When set, only this account can be connected, also "
                  "through the app's Installation URL.")
    zoom_plan = models.CharField(max_length=16, choices=ZoomPlan.choices,
                                 default=ZoomPlan.BUSINESS,
                                 help_text="Sets the API rate limits the workers keep to.")
    sync_interval_hours = models.PositiveIntegerField(
        default=24, validators=[MinValueValidator(1)],
        help_text="How often the user and group directory is fully re-synced.")

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class TenantDomain(models.Model):
    """A hostname that selects its tenant on the tenant URLs (OAuth redirect, webhook)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="domains")
    domain = models.CharField(max_length=253, unique=True, validators=[validate_hostname],
                              help_text="Hostname only, no scheme or port, e.g. "
                              "acme.portal.example.")
    is_primary = models.BooleanField(
        default=False, help_text="Used in the Redirect URL and the OAuth allow list.")
    is_webhook = models.BooleanField(
        default=False, help_text="Used in the Event notification endpoint URL, if set.")

    class Meta:
        verbose_name = "hostname"
        ordering = ["-is_primary", "domain"]
        constraints = [
            models.UniqueConstraint(fields=["tenant"], condition=models.Q(is_primary=True),
                                    name="one_primary_domain_per_tenant"),
            models.UniqueConstraint(fields=["tenant"], condition=models.Q(is_webhook=True),
                                    name="one_webhook_domain_per_tenant"),
            models.UniqueConstraint(Lower("domain"), name="domain_unique_case_insensitive"),
        ]

    def __str__(self):
        return self.domain

    def save(self, *args, **kwargs):
        # Host lookups match exactly on the index; every path stores the normalised form.
        self.clean()
        super().save(*args, **kwargs)

    def clean(self):
        self.domain = (self.domain or "").strip().lower().rstrip(".")
