"""Proxy models that give the operator pages their own admin entries and permissions.

No tables: `TenantHealth` is `Tenant` seen as the health overview (its changelist) and the home
of each tenant's setup checklist. Its `view` permission is what staff need to see both.
"""

from tenants.models import Tenant


class TenantHealth(Tenant):
    class Meta:
        proxy = True
        verbose_name = "Tenant health"
        verbose_name_plural = "Tenant health"
