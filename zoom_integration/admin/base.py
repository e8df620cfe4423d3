"""What every admin of Zoom-owned data shares: read-only, scoped to the staff user's tenants."""

from django.contrib import admin

from portal_security.access import TenantScopedAdminMixin


class ReadOnlyAdminMixin:
    """Nobody adds, changes or deletes through this admin; it only looks."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyTenantDataAdmin(ReadOnlyAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    """Zoom (or the portal's own pipeline) owns these rows; staff only look at them, and only
    at the rows of the tenants granted to them."""
