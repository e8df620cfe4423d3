"""Admin pages for reconcile and the account overview, and the columns they add elsewhere.

- "Account overviews": one page per tenant with Zoom's quality counts per day (SVG charts),
  client versions (the oldest flagged), Zoom Rooms and their issues, and the fetch time; a
  section Zoom refused says why (missing scope, plan without Dashboard).
- "Zoom labels vs portal": how often Zoom's quality labels and the portal's classification
  agree, per tenant (for `view_zoommeeting`).
- "Reconcile states": where each tenant's reconcile stands (read-only).
- `ReconcileHealthMixin` (Tenant health: reconcile column, overview link) and
  `ZoomLabelsColumnMixin` (meeting list: Zoom's labels beside the portal's).
Everything is read-only and scoped to the tenants granted to the staff user.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import BooleanField, F, Value
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from nectar_portal.display import when
from portal_security.access import tenant_access_allows, tenants_visible_to
from tenants.models import Tenant

from ..agreement import COLUMNS, STREAMS, label_agreement
from ..charts import ChartSeries, line_chart_svg
from ..models import ZoomAccountOverview, ZoomMeeting, ZoomReconcileState
from ..overview import QUALITY_STREAMS, SECTIONS, overview_display
from .base import ReadOnlyTenantDataAdmin

SECTION_TITLES = {"quality": "Quality per day", "client_versions": "Client versions",
                  "zoom_rooms": "Zoom Rooms", "top_rooms": "Top rooms with issues",
                  "top_issues": "Top issues"}


def _quality_charts(display, tenant_id: int) -> list:
    charts = []
    for stream, label in QUALITY_STREAMS:
        series = []
        for level in display.levels:
            points = [(dt.datetime.combine(d.day, dt.time(12), tzinfo=dt.UTC),
                       d.counts.get(stream, {}).get(level)) for d in display.quality_days]
            if any(v is not None for _, v in points):
                series.append(ChartSeries(level, points))
        if series:
            charts.append(line_chart_svg(
                chart_id=f"overview-{tenant_id}-{stream}", title=f"{label}: calls per quality",
                series=series, x_label="Day", y_label="Count",
                description=f"Zoom's count of {label.lower()} per quality level and day."))
    return charts


@admin.register(ZoomAccountOverview)
class ZoomAccountOverviewAdmin(ReadOnlyTenantDataAdmin):
    tenant_lookup = "tenant"
    list_display = ("tenant_link", "fetched_at", "sections")
    list_select_related = ("tenant",)
    ordering = ("tenant__name",)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("tenant/<int:tenant_id>/", view(self.tenant_view),
                 name="zoom_integration_zoomaccountoverview_tenant"),
            path("agreement/", view(self.agreement_view),
                 name="zoom_integration_zoomaccountoverview_agreement"),
            *super().get_urls(),
        ]

    @admin.display(description="Tenant", ordering="tenant__name")
    def tenant_link(self, overview):
        return format_html('<a href="{}">{}</a>', reverse(
            "admin:zoom_integration_zoomaccountoverview_tenant", args=[overview.tenant_id]),
            overview.tenant.name)

    @admin.display(description="Sections")
    def sections(self, overview):
        errors = overview.errors if isinstance(overview.errors, dict) else {}
        failed = [f"{SECTION_TITLES.get(k, k)}: {v.get('kind', 'error')}"
                  for k, v in errors.items() if isinstance(v, dict)]
        return "; ".join(failed) or "all fetched"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        overview = self.get_object(request, object_id)
        if overview is None:
            raise Http404("No such overview.")
        return HttpResponseRedirect(reverse(
            "admin:zoom_integration_zoomaccountoverview_tenant", args=[overview.tenant_id]))

    def tenant_view(self, request, tenant_id: int):
        if not self.has_view_permission(request) or not tenant_access_allows(
                user=request.user, tenant_id=tenant_id):
            raise PermissionDenied
        tenant = Tenant.objects.filter(pk=tenant_id).only("pk", "name", "slug").first()
        if tenant is None:
            raise Http404("No such tenant.")
        overview = ZoomAccountOverview.objects.filter(tenant=tenant).first()
        display = overview_display(overview=overview)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Account overview: {tenant.name}",
            "tenant": tenant,
            "overview": overview,
            "display": display,
            "charts": _quality_charts(display, tenant.pk),
            "notices": {s: display.notice(s) for s in SECTIONS},
            "streams": QUALITY_STREAMS,
            "media": self.media,
        }
        return TemplateResponse(request,
                                "admin/zoom_integration/zoomaccountoverview/tenant.html",
                                context)

    def agreement_view(self, request):
        if not request.user.has_perm("zoom_integration.view_zoommeeting"):
            raise PermissionDenied
        stream = request.GET.get("stream", "worst")
        if stream not in STREAMS:
            stream = "worst"
        meetings = ZoomMeeting.objects.filter(tenant__in=tenants_visible_to(user=request.user))
        tenant_id = request.GET.get("tenant", "")
        if tenant_id.isdigit():
            meetings = meetings.filter(tenant_id=int(tenant_id))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Zoom's quality labels vs the portal's classification",
            "tables": label_agreement(meetings=meetings, stream=stream),
            "columns": [ZoomMeeting._meta.get_field("quality").flatchoices[i][1]
                        for i in range(len(COLUMNS))],
            "column_values": COLUMNS,
            "streams": STREAMS,
            "stream": stream,
            "tenant_id": tenant_id if tenant_id.isdigit() else "",
        }
        return TemplateResponse(
            request, "admin/zoom_integration/zoomaccountoverview/agreement.html", context)


@admin.register(ZoomReconcileState)
class ZoomReconcileStateAdmin(ReadOnlyTenantDataAdmin):
    tenant_lookup = "tenant"
    list_display = ("tenant", "status", "progress", "waiting_until", "last_run_at",
                    "last_complete_at", "meetings_found", "last_error")
    list_select_related = ("tenant",)
    list_filter = ("status",)
    ordering = ("tenant__name",)
    exclude = ("pending",)

    @admin.display(description="Windows listed")
    def progress(self, state):
        return reconcile_progress_text(state)


def reconcile_progress_text(state: ZoomReconcileState | None) -> str:
    """"backfill: 2 of 6 windows listed", or the last outcome, for staff."""
    if state is None:
        return "not run yet"
    if state.pending:
        text = f"{state.job_origin or 'run'}: {state.job_done} of {state.job_total} windows listed"
        if state.waiting_until and state.waiting_until > timezone.now():
            text += f"; the rest waits for Zoom's limit to reset ({when(state.waiting_until)})"
        return text
    if state.last_complete_at:
        return (f"up to date ({when(state.last_complete_at)}); "
                f"{state.meetings_found} found missing in all")
    return state.get_status_display()


_STATE_COLUMNS = ("status", "job_done", "job_total", "job_origin", "waiting_until",
                  "last_complete_at", "meetings_found", "pending")


class ReconcileHealthMixin:
    """Tenant health: the reconcile state in a column; `h_can_overview` for the overview link.

    The state rides on each row through the one-to-one join (the page stays one query)."""

    def get_queryset(self, request):
        can = request.user.has_perm("zoom_integration.view_zoomaccountoverview")
        return super().get_queryset(request).annotate(
            h_can_overview=Value(can, output_field=BooleanField()),
            **{f"h_rc_{name}": F(f"zoom_reconcile__{name}") for name in _STATE_COLUMNS})

    @admin.display(description="Reconcile")
    def reconcile(self, row):
        state = None
        if getattr(row, "h_rc_status", None):
            state = ZoomReconcileState(**{name: getattr(row, f"h_rc_{name}")
                                          for name in _STATE_COLUMNS})
        css = "op-warn" if state and state.status in ("waiting", "failed", "unavailable") \
            else ""
        return format_html('<span class="{}">{}</span>', css, reconcile_progress_text(state))


class ZoomLabelsColumnMixin:
    """Meeting list: Zoom's audio / video / screen share labels beside the portal's badge."""

    @admin.display(description="Zoom's labels")
    def zoom_labels(self, meeting):
        labels = [meeting.zoom_audio_quality, meeting.zoom_video_quality,
                  meeting.zoom_screen_share_quality]
        if not any(labels):
            return "—"
        return format_html('<span class="op-reason" title="audio / video / screen share">'
                           "{} / {} / {}</span>", *(label or "–" for label in labels))
