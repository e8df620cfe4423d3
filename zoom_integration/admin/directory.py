"""Admin for each tenant's Zoom directory: users, groups, sync runs (all read-only), and the
"Sync users and groups now" action (on the Directory syncs page; `sync_now` is a plain admin
action function the tenant admin can add to its own `actions`)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, Q
from django.utils.html import format_html

from portal_security.access import tenant_write_action

from ..models import SyncRun, ZoomGroup, ZoomUser
from ..models.directory import TenantDirectory
from .base import ReadOnlyTenantDataAdmin


@tenant_write_action
@admin.action(description="Sync users and groups now")
def sync_now(modeladmin, request, queryset):
    """Queues a full directory sync per selected tenant (works on Tenant and its proxies).

    Allowed to staff who may change tenants; checked here so any admin can list the action.
    """
    from ..directory import tenants_sync_now

    if not request.user.has_perm("tenants.change_tenant"):
        modeladmin.message_user(request, "You may not sync tenants (needs 'change tenant').",
                                messages.ERROR)
        return

    tenants = [t for t in queryset if t.is_active]
    count = tenants_sync_now(tenants=tenants)
    skipped = queryset.count() - len(tenants)
    modeladmin.message_user(
        request, f"Queued a directory sync for {count} tenant(s)"
        + (f"; skipped {skipped} inactive" if skipped else "") + ".", messages.SUCCESS)


@admin.register(ZoomUser)
class ZoomUserAdmin(ReadOnlyTenantDataAdmin):
    list_display = ("email", "display_name", "tenant", "status", "user_type", "dept",
                    "synced_at", "deleted_at")
    list_filter = ("tenant", "status", ("deleted_at", admin.EmptyFieldListFilter))
    search_fields = ("email", "display_name", "zoom_id")
    list_select_related = ("tenant",)
    show_full_result_count = False  # 100,000-user tenants: skip the second COUNT


@admin.register(ZoomGroup)
class ZoomGroupAdmin(ReadOnlyTenantDataAdmin):
    list_display = ("name", "tenant", "total_members", "members_here", "synced_at", "deleted_at")
    list_filter = ("tenant", ("deleted_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "zoom_id")
    list_select_related = ("tenant",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_members=Count("memberships"))

    @admin.display(description="members stored", ordering="_members")
    def members_here(self, obj):
        return obj._members


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyTenantDataAdmin):
    list_display = ("__str__", "tenant", "kind", "status", "phase", "progress", "started_at",
                    "finished_at", "users_seen", "users_marked_deleted", "groups_seen",
                    "api_calls")
    list_filter = ("status", "kind", "tenant")
    list_select_related = ("tenant",)
    readonly_fields = ("progress",)

    @admin.display(description="progress")
    def progress(self, obj):
        percent = obj.progress_percent
        if percent is None:
            return f"{obj.items_done}"
        return format_html('<progress max="100" value="{}"></progress> {} / {} ({}%)',
                           percent, obj.items_done, obj.items_total, percent)


@admin.register(TenantDirectory)
class TenantDirectoryAdmin(ReadOnlyTenantDataAdmin):
    tenant_lookup = ""  # the rows are tenants
    list_display = ("name", "slug", "is_active", "sync_interval_hours", "users", "last_sync",
                    "api_calls_today")
    search_fields = ("name", "slug")
    actions = [sync_now]
    fields = ("name", "slug", "is_active", "sync_interval_hours", "zoom_plan")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            _users=Count("zoom_users", filter=Q(zoom_users__deleted_at__isnull=True)))

    @admin.display(description="users", ordering="_users")
    def users(self, obj):
        return obj._users

    @admin.display(description="last sync")
    def last_sync(self, obj):
        run = obj.sync_runs.order_by("-started_at").first()
        if run is None:
            return "never"
        return f"{run.kind} {run.status} at {run.started_at:%Y-%m-%d %H:%M} UTC"

    @admin.display(description="API calls today (Heavy+Resource-intensive / daily cap)")
    def api_calls_today(self, obj):
        from ..ratelimit import api_usage_today
        from ..zoom import COMBINED_DAILY, combined_daily_cap

        usage = api_usage_today(tenant=obj)
        heavy = sum(usage.get(c, 0) for c in COMBINED_DAILY)
        cap = combined_daily_cap(obj.zoom_plan)
        total = sum(v for k, v in usage.items() if not k.startswith("rate_limited"))
        return f"{total} total; {heavy} / {cap if cap else 'no cap'}"
