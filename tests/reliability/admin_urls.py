"""A URLconf for the per-tenant permission tests: the tenant admins with the scoping mixin.

The project's own admin registrations mix it in once the lead applies it (docs/reliability.md);
until then these tests prove the mixin on the real TenantAdmin.
"""

from django.contrib import admin
from django.urls import include, path

from portal_security.access import TenantScopedAdminMixin
from tenants.admin import TenantAdmin
from tenants.models import Tenant, TenantDomain


class ScopedTenantAdmin(TenantScopedAdminMixin, TenantAdmin):
    tenant_lookup = ""


class ScopedTenantDomainAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    tenant_lookup = "tenant"
    list_display = ("domain", "tenant")


site = admin.AdminSite(name="scoped")
site.register(Tenant, ScopedTenantAdmin)
site.register(TenantDomain, ScopedTenantDomainAdmin)

# The tenant pages show the URLs a customer types into Zoom, built from these routes' names.
urlpatterns = [path("admin/", site.urls), path("", include("zoom_integration.urls"))]
