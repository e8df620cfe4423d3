"""Keeps tenants.host_cache honest: any change to a tenant or its hostnames clears it."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .host_cache import host_cache_clear
from .models import Tenant, TenantDomain


@receiver([post_save, post_delete], sender=Tenant)
@receiver([post_save, post_delete], sender=TenantDomain)
def _tenant_changed(**kwargs):
    host_cache_clear()
