"""Which staff user may see or change which tenant in the admin.

Superusers see every tenant. Any other staff user sees only the tenants granted here, on top of
Django's model permissions (a grant never gives more than the user's model permissions allow).
"""

from django.conf import settings
from django.db import models


class TenantAccess(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="tenant_accesses")
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE,
                               related_name="staff_accesses")
    # Named for the admin's filter heading and column ("By change access").
    can_change = models.BooleanField(
        "change access", default=False,
        help_text="Off: the user may only view this tenant and its Zoom data. On: the user may "
                  "also change and delete them (within their model permissions).")
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "tenant access grant"
        verbose_name_plural = "tenant access grants"
        ordering = ["user_id", "tenant_id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="one_access_per_user_tenant"),
        ]

    def __str__(self):
        mode = "change" if self.can_change else "view"
        return f"{self.user} → {self.tenant} ({mode})"
