"""Admin pages for operators: the tenant health overview and each tenant's setup checklist.

`TenantHealth` (a proxy of `Tenant`) gives the overview its own entry and permission: staff with
`zoom_integration.view_tenanthealth` see the overview, the checklist and its printable version;
nobody adds, changes or deletes through it. Everything shown comes from
`zoom_integration.selectors` (health, checklist); no page here shows a secret. Below each
status, links lead to the affected items (failed meeting fetches, failed deliveries, refused
events, the failed sync), each for staff who may open that list. A backlog of fetches parked on
Zoom's daily cap is a warning below the status (it leaves the status as it is), linked to those
meetings; the tenant's page adds when it should have cleared.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import BooleanField, Value
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from nectar_portal.display import when_html
from portal_security.access import TenantScopedAdminMixin
from tenants.models import Tenant
from tenants.selectors import tenant_zoom_urls

from ..models import SyncRun, TenantHealth, ZoomMeeting
from ..models.metrics import FetchStatus
from ..selectors.checklist import StepState, setup_checklist
from ..selectors.health import (
    HealthCode,
    backlog_from_row,
    health_from_row,
    tenant_backlog_warning,
    tenant_health_overview,
    tenant_health_row,
)
from ..zoom import SUBSCRIBED_EVENTS
from .base import ReadOnlyAdminMixin
from .reconcile import ReconcileHealthMixin
from .usage import ApiCallsTodayColumnMixin


class HealthStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return HealthCode.CHOICES

    def queryset(self, request, queryset):
        if self.value() in HealthCode.LABELS:
            return queryset.filter(h_status=self.value())
        return queryset


def status_badge(code: str, label: str):
    return format_html('<span class="op-badge op-{}">{}</span>', code, label)


class _HealthOverviewAdmin(admin.ModelAdmin):
    """Rows come annotated from the health selector; ordering needs those annotations, so it
    is applied here rather than by ModelAdmin.get_queryset (which orders before annotating)."""

    def get_queryset(self, request):
        # The "Pages" column links only where the user may go; the flags ride on each row
        # (the admin instance is shared between requests, so it cannot hold them).
        qs = tenant_health_overview(base=self.model._default_manager.get_queryset()).annotate(
            h_can_edit=Value(request.user.has_perm("tenants.change_tenant"),
                             output_field=BooleanField()),
            **{flag: Value(allowed, output_field=BooleanField())
               for flag, allowed in _link_permissions(request.user).items()})
        return qs.order_by(*self.get_ordering(request))

    def get_ordering(self, request):
        return ("h_rank", "name")  # worst first (annotations: not checkable as `ordering`)


@admin.register(TenantHealth)
class TenantHealthAdmin(ReadOnlyAdminMixin, ReconcileHealthMixin, ApiCallsTodayColumnMixin,
                        TenantScopedAdminMixin, _HealthOverviewAdmin):
    """Read-only like every admin of Zoom data (the overview and checklist only look); its
    queryset comes annotated from the health selector, hence its own base below the mixins."""

    tenant_lookup = ""  # the rows are tenants; staff see those granted to them
    list_display = ("tenant_name", "status", "last_event", "last_sync", "failed_deliveries",
                    "api_calls_today", "reconcile")
    list_display_links = None
    list_filter = (HealthStatusFilter, "is_active", "zoom_plan")
    search_fields = ("name", "slug", "zoom_account_id", "domains__domain")
    actions = None
    list_per_page = 100
    # Facet counts would re-run the status expression once per choice: not worth it here.
    show_facets = admin.ShowFacets.NEVER

    class Media:
        css = {"all": ("portal/operator.css",)}
        js = ("portal/copy.js",)

    def get_search_results(self, request, queryset, search_term):
        # Search through domains joins; answer with ids so the annotations stay un-duplicated.
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if may_have_duplicates:
            return queryset.filter(pk__in=found.values("pk")), False
        return found, False

    def get_urls(self):
        opts = self.model._meta
        name = f"{opts.app_label}_{opts.model_name}"
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/checklist/", view(self.checklist_view),
                 name=f"{name}_checklist"),
            path("<path:object_id>/checklist/print/", view(self.checklist_print_view),
                 name=f"{name}_checklist_print"),
            *super().get_urls(),
        ]

    # --- Columns ---------------------------------------------------------------------------

    @admin.display(description="Tenant", ordering="name")
    def tenant_name(self, row):
        url = reverse("admin:zoom_integration_tenanthealth_checklist", args=[row.pk])
        inactive = " (inactive)" if not row.is_active else ""
        return format_html('<a href="{}">{}</a>{}<div class="op-reason">{}</div>', url,
                           row.name, inactive, self.links(row))

    @admin.display(description="Status", ordering="h_rank")
    def status(self, row):
        health = health_from_row(row)
        links = affected_links(row)
        return format_html('{}<div class="op-reason op-wrap">{}</div>{}{}',
                           status_badge(health.code, health.label), health.reason,
                           format_html('<div class="op-reason op-affected">{}</div>',
                                       format_html_join(" · ", '<a href="{}">{}</a>', links))
                           if links else "",
                           backlog_warning_html(backlog_from_row(row), parked_list_url(row)))

    @admin.display(description="Last event", ordering="h_last_event_at")
    def last_event(self, row):
        if not row.h_last_event_at:
            return "—"
        return format_html("{}<div class=\"op-reason\">{}</div>",
                           _when(row.h_last_event_at), row.h_last_event)

    @admin.display(description="Last sync", ordering="h_last_sync_at")
    def last_sync(self, row):
        if not row.h_last_sync_at:
            return "—"
        return format_html('{}<div class="op-reason">{}, {} users</div>',
                           _when(row.h_last_sync_at), row.h_last_sync_status, row.h_users)

    @admin.display(description="Failed deliveries", ordering="h_failed_deliveries")
    def failed_deliveries(self, row):
        # Events refused at the door (bad signature) never become deliveries: say so here, or
        # a wrong Secret Token would read as "0".
        refused = (format_html('<div class="op-reason op-bad">{} refused: bad signature '
                               '(24 h)</div>', row.h_refused_signatures)
                   if row.h_refused_signatures else "")
        if not row.h_failed_deliveries:
            return format_html("0{}", refused)
        return format_html('<strong class="op-bad">{}</strong> ({} in 24 h){}',
                           row.h_failed_deliveries, row.h_recent_failed_deliveries, refused)

    def links(self, row):
        """Checklist, meetings and the tenant's own page: only where the user may go."""
        links = [format_html('<a href="{}">Checklist</a>', reverse(
            "admin:zoom_integration_tenanthealth_checklist", args=[row.pk]))]
        if row.h_can_meetings:
            links.append(format_html('<a href="{}?tenant__id__exact={}">Meetings</a>',
                                     reverse("admin:zoom_integration_zoommeeting_changelist"),
                                     row.pk))
        if getattr(row, "h_can_overview", False):  # annotated by ReconcileHealthMixin
            links.append(format_html('<a href="{}">Account overview</a>', reverse(
                "admin:zoom_integration_zoomaccountoverview_tenant", args=[row.pk])))
        if row.h_can_edit:
            links.append(format_html('<a href="{}">Edit tenant</a>', reverse(
                "admin:tenants_tenant_change", args=[row.pk])))
        return format_html(" · ".join(["{}"] * len(links)), *links)

    # --- Pages -----------------------------------------------------------------------------

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"title": "Tenant health",
                                                 **(extra_context or {})})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The proxy's change form would list Tenant's fields; the checklist is this page.
        return HttpResponseRedirect(
            reverse("admin:zoom_integration_tenanthealth_checklist", args=[object_id]))

    def _tenant_or_404(self, request, object_id) -> Tenant:
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            pk = int(unquote(object_id))
        except (TypeError, ValueError) as exc:
            raise Http404("No such tenant.") from exc
        tenant = (Tenant.objects.prefetch_related("domains")
                  .defer("client_secret", "secret_token", "verification_token")
                  .filter(pk=pk).first())
        if tenant is None:
            raise Http404("No such tenant.")
        if not self.has_view_permission(request, tenant):  # a tenant not granted to this user
            raise PermissionDenied
        return tenant

    def _checklist_context(self, request, tenant: Tenant) -> dict:
        steps = setup_checklist(tenant=tenant)
        row = tenant_health_row(tenant=tenant)
        return {
            "tenant": tenant,
            "steps": steps,
            "health": health_from_row(row),
            "health_row": row,
            "urls": tenant_zoom_urls(tenant=tenant),
            "events": SUBSCRIBED_EVENTS,
            "done_count": sum(1 for s in steps if s.state == StepState.DONE),
            "generated_at": timezone.now(),
        }

    def checklist_view(self, request, object_id):
        tenant = self._tenant_or_404(request, object_id)
        opts = self.model._meta
        checklist = self._checklist_context(request, tenant)
        row = checklist["health_row"]
        for flag, allowed in _link_permissions(request.user).items():
            setattr(row, flag, allowed)
        context = {
            **self.admin_site.each_context(request),
            **checklist,
            "opts": opts,
            "title": f"Setup checklist: {tenant.name}",
            "print_url": reverse("admin:zoom_integration_tenanthealth_checklist_print",
                                 args=[tenant.pk]),
            "tenant_change_url": (reverse("admin:tenants_tenant_change", args=[tenant.pk])
                                  if request.user.has_perm("tenants.change_tenant") else None),
            "meetings_url": (
                reverse("admin:zoom_integration_zoommeeting_changelist")
                + f"?tenant__id__exact={tenant.pk}"
                if request.user.has_perm(f"{ZoomMeeting._meta.app_label}.view_zoommeeting")
                else None),
            "media": self.media,
            "affected_links": affected_links(row),
            # The estimate costs a few queries: only when the row says something is parked.
            "backlog_warning": (tenant_backlog_warning(tenant=tenant)
                                if row.h_parked_fetches else ""),
            "backlog_url": parked_list_url(row),
        }
        return TemplateResponse(request, "admin/zoom_integration/tenanthealth/checklist.html",
                                context)

    def checklist_print_view(self, request, object_id):
        tenant = self._tenant_or_404(request, object_id)
        return TemplateResponse(
            request, "admin/zoom_integration/tenanthealth/checklist_print.html",
            self._checklist_context(request, tenant))


# (row flag suffix, model name): the lists `affected_links` points into.
AFFECTED_LISTS = (("meetings", "zoommeeting"), ("deliveries", "zoomwebhookdelivery"),
                  ("rejections", "webhookrejection"), ("syncs", "syncrun"))


def _link_permissions(user) -> dict[str, bool]:
    """The row flags the links read (h_can_meetings, ...): may the user open that list?"""
    return {f"h_can_{key}": user.has_perm(f"zoom_integration.view_{model}")
            for key, model in AFFECTED_LISTS}


def _changelist(model: str, tenant_id: int, **filters: str) -> str:
    query = urlencode({"tenant__id__exact": tenant_id, **filters})
    return f"{reverse(f'admin:zoom_integration_{model}_changelist')}?{query}"


def affected_links(row) -> list[tuple[str, str]]:
    """(url, text) of the lists holding what makes a row unhealthy, where the user may go."""
    links = []
    if row.h_recent_failed_fetches and row.h_can_meetings:
        count = row.h_recent_failed_fetches
        links.append((_changelist("zoommeeting", row.pk, fetch_status__exact="failed"),
                      f"{count} meeting{'s' if count != 1 else ''} failed: fetch again"))
    if row.h_recent_failed_deliveries and row.h_can_deliveries:
        count = row.h_recent_failed_deliveries
        links.append((_changelist("zoomwebhookdelivery", row.pk, status__exact="failed"),
                      f"{count} failed deliver{'ies' if count != 1 else 'y'}"))
    if row.h_refused_signatures and row.h_can_rejections:
        links.append((_changelist("webhookrejection", row.pk, reason__exact="bad_signature"),
                      "refused events"))
    if row.h_last_sync_status == SyncRun.Status.FAILED and row.h_can_syncs:
        links.append((_changelist("syncrun", row.pk, status__exact="failed"), "failed sync"))
    return links


def parked_list_url(row) -> str | None:
    """The tenant's meetings parked on Zoom's daily cap, where the user may open the list."""
    if row.h_parked_fetches and row.h_can_meetings:
        return _changelist("zoommeeting", row.pk, fetch_status__exact=FetchStatus.PARKED.value)
    return None


def backlog_warning_html(text: str, url: str | None):
    """The overview's backlog warning below the status: "" when nothing is parked."""
    if not text:
        return ""
    link = format_html(' <a href="{}">Parked meetings</a>', url) if url else ""
    return format_html('<div class="op-reason op-wrap op-warn op-backlog">{}{}</div>', text, link)


def _when(value):
    return when_html(value)
