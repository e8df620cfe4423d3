"""A tenant's link to its Zoom account: OAuth tokens (encrypted), scopes and the capabilities they
grant, and link health.

Only `zoom_integration.oauth` writes the token fields.
"""

from django.db import models

from tenants.fields import SecretTextField
from tenants.models import Tenant


class ConnectionState(models.TextChoices):
    NOT_CONNECTED = "not_connected", "Not connected"
    CONNECTED = "connected", "Connected"
    NEEDS_REAUTH = "needs_reauth", "Needs re-authorization"
    DEAUTHORIZED = "deauthorized", "Deauthorized"


class ZoomConnection(models.Model):
    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE,
                                  related_name="zoom_connection")
    state = models.CharField(max_length=20, choices=ConnectionState.choices,
                             default=ConnectionState.NOT_CONNECTED)
    access_token = SecretTextField(blank=True, default="")
    refresh_token = SecretTextField(
        blank=True, default="",
        help_text="Zoom rotates it on every refresh; only the newest one works.")
    access_token_expires_at = models.DateTimeField(null=True, blank=True)
    scopes = models.TextField(blank=True, help_text="Granted scopes, space-separated, from Zoom.")
    scope_kind = models.CharField(
        max_length=10, blank=True,
        help_text="Granular (apps created since 2024) or classic, read from the granted scopes.")
    missing_capabilities = models.TextField(
        blank=True, help_text="Required capabilities (keys, space-separated) that no granted "
                              "scope covers, or that Zoom refused with code 4711.")
    missing_scopes = models.TextField(
        blank=True, help_text="The scope names to add for the missing capabilities, in the names "
                              "of the app's kind.")
    api_url = models.URLField(blank=True,
                              help_text="The API address Zoom gave with the tokens, if any.")
    authorized_by_email = models.EmailField(blank=True)
    authorized_by_zoom_user_id = models.CharField(max_length=64, blank=True)
    authorized_at = models.DateTimeField(null=True, blank=True)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    endpoint_validated_at = models.DateTimeField(
        null=True, blank=True, help_text="When Zoom last validated the event endpoint URL.")
    dashboard_available = models.BooleanField(
        null=True, help_text="False when Zoom answered that the plan has no Dashboard.")
    dashboard_checked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.tenant} ({self.get_state_display()})"
