"""Admin for tenant grants: superusers only (a grant is itself a permission)."""

from django.contrib import admin

from .models import TenantAccess


class SuperuserOnlyMixin:
    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    has_add_permission = has_change_permission = has_delete_permission = has_view_permission


@admin.register(TenantAccess)
class TenantAccessAdmin(SuperuserOnlyMixin, admin.ModelAdmin):
    list_display = ("user", "tenant", "can_change", "granted_at")
    list_filter = ("can_change", "tenant")
    search_fields = ("user__username", "user__email", "tenant__name", "tenant__slug")
    raw_id_fields = ("user",)


class TenantAccessInline(SuperuserOnlyMixin, admin.TabularInline):
    """For TenantAdmin.inlines: grant staff access from the tenant's own page."""

    model = TenantAccess
    extra = 0
    raw_id_fields = ("user",)
    fields = ("user", "can_change", "granted_at")
    readonly_fields = ("granted_at",)
