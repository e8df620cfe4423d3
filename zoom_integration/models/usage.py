"""Zoom API calls per tenant and day: the counts behind "API calls today" against the daily cap.

Written only by `ratelimit.api_usage_flush`, which moves the counts the rate limiter gathers in
Redis (or in memory) into these rows; services call it when a sync or fetch ends.
"""

from django.db import models

from tenants.models import Tenant


class ApiUsage(models.Model):
    """Zoom API calls per tenant, day (UTC) and rate-limit category, against the daily cap."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_usage")
    day = models.DateField()
    category = models.CharField(max_length=24)
    calls = models.PositiveIntegerField(default=0)
    rate_limited = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = verbose_name_plural = "API usage"
        constraints = [models.UniqueConstraint(fields=["tenant", "day", "category"],
                                               name="one_usage_row_per_day_category")]

    def __str__(self):
        return f"{self.tenant_id} {self.day} {self.category}: {self.calls}"
