"""Admin for each tenant's Zoom directory: users, groups, sync runs (all read-only), and the
"Sync users and groups now" action (on the Directory syncs page; `sync_now` is a plain admin
action function the tenant admin can add to its own `actions`)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, Q
from django.utils.html import format_html

from nectar_portal.display import from_epoch_ms, truncated, when
from portal_security.access import tenant_write_action

from ..models import SyncRun, ZoomGroup, ZoomUser
from ..models.directory import TenantDirectory
from ..selectors.usage import api_calls_today_annotate
from .base import ReadOnlyTenantDataAdmin
from .usage import ApiCallsTodayColumnMixin


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


class DeletedInZoomFilter(admin.EmptyFieldListFilter):
    """"By deleted in Zoom: Yes / No" on `deleted_at`, where Django's own filter would read
    "By deleted at: Empty / Not empty" (same parameter, `deleted_at__isempty`)."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        self.title = "deleted in Zoom"

    def choices(self, changelist):
        # Django's own loop with the labels changed: "0" (not empty) is deleted.
        counts = self.get_facet_queryset(changelist) if changelist.add_facets else None
        for lookup, title, count_field in ((None, "All", None), ("0", "Yes", "not_empty__c"),
                                           ("1", "No", "empty__c")):
            if counts is not None and count_field is not None:
                title = f"{title} ({counts[count_field]})"
            yield {"selected": self.lookup_val == lookup,
                   "query_string": changelist.get_query_string({self.lookup_kwarg: lookup}),
                   "display": title}


@admin.register(ZoomUser)
class ZoomUserAdmin(ReadOnlyTenantDataAdmin):
    list_display = ("email", "display_name", "tenant_name", "status", "user_type",
                    "department", "synced_at", "deleted_at")
    exclude = ("last_event_ts",)
    readonly_fields = ("last_event",)
    list_filter = ("tenant", "status", ("deleted_at", DeletedInZoomFilter))
    # A stable order: the autocomplete of other admins pages through this list too.
    ordering = ("email", "pk")
    search_fields = ("email", "display_name", "zoom_id")
    list_select_related = ("tenant",)
    show_full_result_count = False  # 100,000-user tenants: skip the second COUNT

    @admin.display(description="Tenant", ordering="tenant__name")
    def tenant_name(self, user):
        return truncated(user.tenant.name, em=14)

    @admin.display(description="Department", ordering="dept")
    def department(self, user):
        return truncated(user.dept, em=16)

    @admin.display(description="Last user event")
    def last_event(self, user):
        """Zoom stamps events in milliseconds; staff read a date."""
        return when(from_epoch_ms(user.last_event_ts))


@admin.register(ZoomGroup)
class ZoomGroupAdmin(ReadOnlyTenantDataAdmin):
    list_display = ("name", "tenant", "total_members", "members_here", "synced_at", "deleted_at")
    list_filter = ("tenant", ("deleted_at", DeletedInZoomFilter))
    ordering = ("name", "pk")  # stable pages, the autocomplete's included
    search_fields = ("name", "zoom_id")
    list_select_related = ("tenant",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_members=Count("memberships"))

    @admin.display(description="Members stored", ordering="_members")
    def members_here(self, obj):
        return obj._members


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyTenantDataAdmin):
    # Eight columns fit 1366 px: the counts share one, the kind and status are in the name.
    list_display = ("__str__", "tenant_name", "phase", "progress", "started_at", "finished_at",
                    "found", "api_calls")
    list_filter = ("status", "kind", "tenant")
    list_select_related = ("tenant",)
    readonly_fields = ("progress",)

    @admin.display(description="Tenant", ordering="tenant__name")
    def tenant_name(self, run):
        return truncated(run.tenant.name, em=14)

    @admin.display(description="Found")
    def found(self, run):
        removed = f" ({run.users_marked_deleted} removed)" if run.users_marked_deleted else ""
        return f"{run.users_seen} users{removed}, {run.groups_seen} groups"

    @admin.display(description="Progress")
    def progress(self, obj):
        percent = obj.progress_percent
        if percent is None:
            return f"{obj.items_done}"
        return format_html('<progress max="100" value="{}"></progress> {} / {} ({}%)',
                           percent, obj.items_done, obj.items_total, percent)


@admin.register(TenantDirectory)
class TenantDirectoryAdmin(ApiCallsTodayColumnMixin, ReadOnlyTenantDataAdmin):
    tenant_lookup = ""  # the rows are tenants
    list_display = ("name", "slug", "is_active", "sync_interval_hours", "users", "last_sync",
                    "api_calls_today")
    search_fields = ("name", "slug")
    actions = [sync_now]
    fields = ("name", "slug", "is_active", "sync_interval_hours", "zoom_plan")

    def get_queryset(self, request):
        # Today's API calls as Tenant health counts them (one number per fact).
        return api_calls_today_annotate(super().get_queryset(request)).annotate(
            _users=Count("zoom_users", filter=Q(zoom_users__deleted_at__isnull=True)))

    @admin.display(description="Users", ordering="_users")
    def users(self, obj):
        return obj._users

    @admin.display(description="Last sync")
    def last_sync(self, obj):
        run = obj.sync_runs.order_by("-started_at").first()
        if run is None:
            return "never"
        return f"{run.kind} sync {run.get_status_display().lower()}, {when(run.started_at)}"
