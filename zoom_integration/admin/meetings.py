"""Meeting quality in the admin: the list of meetings and webinars, CSV export, the meeting page.

Read-only for everyone: `view_zoommeeting` lets staff see the list, export what the filters
show, and open a meeting's page: the meeting-level SVG charts of latency, jitter and loss
(median and worst person each minute, over everyone), and its people, poor calls first (lowest
MOS first), 50 a page (`?page=`), each with their join sessions' times, device, network and
location, waiting-room stints marked, their classification and reason; the worst few of the
page are charted inline. Each person has their own page (`<id>/person/?person=`): sessions,
stored per-stream summaries and the per-minute charts of every stream. Counts are of people,
not join sessions. Counts, shares and charts come from `zoom_integration.selectors.meetings`
(subqueries, no N+1): a page costs the same number of queries for 5 people or 5,000.

"Fetch quality data again" (a list action, and a button on the meeting page) resets a fetch
and queues it (`metrics.metrics_fetch_again`): for staff with `change_zoommeeting` and a
change grant on the meeting's tenant; nobody else sees it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from nectar_portal.display import truncated
from portal_security.access import tenant_access_allows, tenant_write_action, tenants_visible_to

from ..messages import staff_text
from ..metrics import metrics_fetch_again
from ..models import ZoomGroup, ZoomMeeting, ZoomUser
from ..models.metrics import MeetingKind
from ..selectors.meetings import (
    MAX_PARTICIPANT_CHARTS,
    PEOPLE_PER_PAGE,
    SUMMARY_COLUMNS,
    meeting_page,
    meeting_person_page,
    meetings_filter,
    meetings_with_quality,
)
from .base import ReadOnlyTenantDataAdmin
from .reconcile import ZoomLabelsColumnMixin

TENANT_PARAM = "tenant__id__exact"


def _int_param(value: str | None) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise IncorrectLookupParameters(f"not a number: {value!r}") from exc


class _TenantScopedFilter(admin.SimpleListFilter):
    """Choices appear once a tenant is picked (thousands of users would not fit a sidebar)."""

    limit = 200

    def options_for(self, *, tenants, tenant_id: int | None, pk: int | None):
        """(pk, label) pairs among `tenants` (those the user may see)."""
        raise NotImplementedError

    def lookups(self, request, model_admin):
        selected = _int_param(self.value())  # a bad value: the admin's "?e=1" error page
        try:
            tenant_id = _int_param(request.GET.get(TENANT_PARAM))
        except IncorrectLookupParameters:
            tenant_id = None  # the tenant filter reports its own bad value
        if not tenant_id and not selected:
            return []
        # Without a tenant, keep the selected choice visible (and so its filter applied).
        options = self.options_for(tenants=tenants_visible_to(user=request.user),
                                   tenant_id=tenant_id, pk=None if tenant_id else selected)
        return [(str(pk), label) for pk, label in options[: self.limit]]


class ZoomUserFilter(_TenantScopedFilter):
    title = "user (host or participant)"
    parameter_name = "user"

    def options_for(self, *, tenants, tenant_id, pk):
        users = ZoomUser.objects.filter(tenant__in=tenants)
        users = (users.filter(tenant_id=tenant_id, deleted_at__isnull=True) if tenant_id
                 else users.filter(pk=pk))
        users = users.order_by("email", "display_name").values_list("pk", "email",
                                                                     "display_name")
        return [(pk, email or name or f"user {pk}") for pk, email, name in users]

    def queryset(self, request, queryset):
        user_id = _int_param(self.value())
        return meetings_filter(queryset, user_id=user_id) if user_id else queryset


class ZoomGroupFilter(_TenantScopedFilter):
    title = "group"
    parameter_name = "group"

    def options_for(self, *, tenants, tenant_id, pk):
        groups = ZoomGroup.objects.filter(tenant__in=tenants)
        groups = (groups.filter(tenant_id=tenant_id, deleted_at__isnull=True) if tenant_id
                  else groups.filter(pk=pk))
        groups = groups.order_by("name").values_list("pk", "name")
        return [(pk, name or f"group {pk}") for pk, name in groups]

    def queryset(self, request, queryset):
        group_id = _int_param(self.value())
        return meetings_filter(queryset, group_id=group_id) if group_id else queryset


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.0f}%"


def _csv_cell(value) -> str:
    """Text for a CSV cell; a leading = + - @ would run as a formula in a spreadsheet."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


CSV_COLUMNS = (
    ("tenant", lambda m: m.tenant.slug),
    ("kind", lambda m: m.kind),
    ("topic", lambda m: m.topic),
    ("meeting_id", lambda m: m.zoom_meeting_id),
    ("uuid", lambda m: m.uuid),
    ("host_email", lambda m: m.host_email),
    ("start_time", lambda m: m.start_time.isoformat() if m.start_time else ""),
    ("end_time", lambda m: m.end_time.isoformat() if m.end_time else ""),
    ("participants", lambda m: m.q_participants),
    ("sessions", lambda m: m.q_sessions),
    ("poor_participants", lambda m: m.q_poor),
    ("classified_participants", lambda m: m.q_classified),
    ("poor_share_percent", lambda m: "" if m.q_poor_share is None
     else f"{m.q_poor_share * 100:.1f}"),
    ("worst_metric", lambda m: m.q_worst or ""),
    ("quality", lambda m: m.quality),
    ("fetch_status", lambda m: m.fetch_status),
)


class _Echo:
    def write(self, value):
        return value


def meetings_csv_response(queryset, filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def rows() -> Iterator[str]:
        yield writer.writerow([name for name, _ in CSV_COLUMNS])
        for meeting in queryset.iterator(chunk_size=500):
            yield writer.writerow([_csv_cell(get(meeting)) for _, get in CSV_COLUMNS])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@admin.register(ZoomMeeting)
class ZoomMeetingAdmin(ZoomLabelsColumnMixin, ReadOnlyTenantDataAdmin):
    # Read-only; staff see the meetings of the tenants granted to them.
    tenant_lookup = "tenant"
    # Eight narrow columns fit a 1366 px screen beside the filters: the tenant and a webinar's
    # kind ride under the topic, long text is cut with the whole of it on hover.
    list_display = ("title", "end_time", "participants", "poor_share", "worst",
                    "quality_badge", "zoom_labels", "data")
    list_filter = (("tenant", admin.RelatedOnlyFieldListFilter),
                   ("end_time", admin.DateFieldListFilter), "quality", "kind",
                   ZoomUserFilter, ZoomGroupFilter, "fetch_status")
    search_fields = ("topic", "uuid", "zoom_meeting_id", "host_email")
    date_hierarchy = "end_time"
    list_select_related = ("tenant",)
    list_per_page = 50
    actions = ("export_csv", "fetch_again")
    change_list_template = "admin/zoom_integration/zoommeeting/change_list.html"

    class Media:
        css = {"all": ("portal/operator.css",)}

    def get_queryset(self, request):
        return meetings_with_quality(super().get_queryset(request))

    def get_urls(self):
        opts = self.model._meta
        name = f"{opts.app_label}_{opts.model_name}"
        return [path("csv/", self.admin_site.admin_view(self.csv_view), name=f"{name}_csv"),
                path("<path:object_id>/fetch-again/",
                     self.admin_site.admin_view(self.fetch_again_view),
                     name=f"{name}_fetch_again"),
                # One person of the meeting (?person=<id>): the meeting's id alone in the path,
                # so the URL reverses like the admin's own per-object pages.
                path("<path:object_id>/person/",
                     self.admin_site.admin_view(self.person_view), name=f"{name}_person"),
                *super().get_urls()]

    # --- Columns ---------------------------------------------------------------------------

    @admin.display(description="Topic", ordering="topic")
    def title(self, meeting):
        url = reverse("admin:zoom_integration_zoommeeting_change", args=[meeting.pk])
        where = meeting.tenant.name
        if meeting.kind != MeetingKind.MEETING:
            where = f"{where} · {meeting.get_kind_display()}"
        return format_html('<a href="{}">{}</a><div class="op-reason">{}</div>', url,
                           truncated(meeting.topic or meeting.uuid, em=20),
                           truncated(where, em=20))

    @admin.display(description="People", ordering="q_participants")
    def participants(self, meeting):
        return meeting.q_participants

    @admin.display(description="Poor", ordering="q_poor_share")
    def poor_share(self, meeting):
        if meeting.q_poor_share is None:
            return "—"
        return format_html('{} <span class="op-reason">({} of {})</span>',
                           _percent(meeting.q_poor_share), meeting.q_poor, meeting.q_classified)

    @admin.display(description="Worst metric")
    def worst(self, meeting):
        return truncated(meeting.q_worst, em=11)

    @admin.display(description="Quality", ordering="quality")
    def quality_badge(self, meeting):
        return format_html('<span class="op-badge op-q-{}">{}</span>', meeting.quality,
                           meeting.get_quality_display())

    # --- Fetch again -----------------------------------------------------------------------

    def has_fetch_permission(self, request):
        # Fetching again rewrites the meeting's stored data: the model's change permission,
        # although nobody edits a meeting through this admin.
        return request.user.has_perm(f"{ZoomMeeting._meta.app_label}.change_zoommeeting")

    def _may_fetch(self, request, meeting) -> bool:
        return self.has_fetch_permission(request) and tenant_access_allows(
            user=request.user, tenant_id=meeting.tenant_id, write=True)

    def _fetch_again(self, request, meeting_ids: list[int]) -> None:
        result = metrics_fetch_again(meeting_ids=meeting_ids)
        queued, inactive = result["queued"], result["inactive"]
        if queued:
            self.message_user(request, f"Queued a new fetch of the quality data for {queued} "
                              f"meeting{'s' if queued != 1 else ''}; the page shows the result "
                              "in a minute or two.", messages.SUCCESS)
        if inactive:
            self.message_user(request, f"Not fetched: {inactive} meeting"
                              f"{'s' if inactive != 1 else ''} of inactive tenants. Activate the "
                              "tenant first.", messages.WARNING)

    @tenant_write_action
    @admin.action(description="Fetch quality data again", permissions=["fetch"])
    def fetch_again(self, request, queryset):
        self._fetch_again(request, list(queryset.values_list("pk", flat=True)))

    def fetch_again_view(self, request, object_id):
        """The meeting page's button: POST only, for users who may change its tenant."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        meeting = self.get_object(request, unquote(object_id))
        if meeting is None:
            raise Http404("No such meeting.")
        if not self._may_fetch(request, meeting):
            raise PermissionDenied
        self._fetch_again(request, [meeting.pk])
        return HttpResponseRedirect(
            reverse("admin:zoom_integration_zoommeeting_change", args=[meeting.pk]))

    @admin.display(description="Data", ordering="fetch_status")
    def data(self, meeting):
        return truncated(meeting.get_fetch_status_display(), em=9)

    # --- CSV -------------------------------------------------------------------------------

    @admin.action(description="Export selected meetings as CSV")
    def export_csv(self, request, queryset):
        return meetings_csv_response(meetings_with_quality(queryset.order_by("-end_time", "-pk")),
                                     f"meetings-{timezone.now():%Y%m%d-%H%M}.csv")

    def csv_view(self, request):
        """Exactly the rows the changelist shows for the same query string (all pages)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(
                reverse("admin:zoom_integration_zoommeeting_changelist") + "?e=1")
        return meetings_csv_response(changelist.queryset,
                                     f"meetings-{timezone.now():%Y%m%d-%H%M}.csv")

    def changelist_view(self, request, extra_context=None):
        extra_context = {"title": "Meeting and webinar quality", **(extra_context or {}),
                         "csv_url": reverse("admin:zoom_integration_zoommeeting_csv")}
        return super().changelist_view(request, extra_context)

    # --- The meeting page ------------------------------------------------------------------

    def _viewable_meeting(self, request, object_id):
        """The meeting if this user may see it (tenant-scoped by `get_queryset`), else None;
        PermissionDenied without the view permission."""
        meeting = self.get_object(request, unquote(object_id))
        if meeting is not None and not self.has_view_permission(request, meeting):
            raise PermissionDenied
        return meeting

    def _page_context(self, request, meeting) -> dict:
        changelist_url = reverse("admin:zoom_integration_zoommeeting_changelist")
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "meeting": meeting,
            "changelist_url": changelist_url,
            "tenant_meetings_url": f"{changelist_url}?{TENANT_PARAM}={meeting.tenant_id}",
            "meeting_url": reverse("admin:zoom_integration_zoommeeting_change",
                                   args=[meeting.pk]),
            "person_url": reverse("admin:zoom_integration_zoommeeting_person",
                                  args=[meeting.pk]),
            "media": self.media,
        }

    def change_view(self, request, object_id, form_url="", extra_context=None):
        meeting = self._viewable_meeting(request, object_id)
        if meeting is None:
            return self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)
        page = meeting_page(meeting=meeting, page_number=request.GET.get("page") or 1)
        # Rows stored before errors were written for staff start with a class name: reword
        # them for this page (in memory only).
        meeting.last_error = staff_text(meeting.last_error)
        context = {
            **self._page_context(request, meeting),
            "title": meeting.topic or meeting.uuid,
            "rows": page.rows,
            "page": page.page,
            "page_range": page.page.paginator.get_elided_page_range(page.page.number),
            "unmatched_waiting": page.unmatched_waiting,
            "meeting_charts": page.meeting_charts,
            "charted": page.charted,
            "max_participant_charts": MAX_PARTICIPANT_CHARTS,
            "people_per_page": PEOPLE_PER_PAGE,
            "fetch_again_url": (
                reverse("admin:zoom_integration_zoommeeting_fetch_again", args=[meeting.pk])
                if self._may_fetch(request, meeting) else None),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/zoom_integration/zoommeeting/detail.html",
                                context)

    def person_view(self, request, object_id):
        """One person of the meeting: sessions, per-stream summaries, every per-minute chart."""
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        meeting = self._viewable_meeting(request, object_id)
        if meeting is None:
            return self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)
        try:
            person_id = int(request.GET.get("person", ""))
        except ValueError:
            raise Http404("No such person in this meeting.") from None
        page = meeting_person_page(meeting=meeting, person_id=person_id)
        if page is None:
            raise Http404("No such person in this meeting.")
        person = page.person
        context = self._page_context(request, meeting)
        # Back to the page of people this one was opened from.
        from_page = request.GET.get("page", "")
        back_url = context["meeting_url"] + (f"?page={int(from_page)}" if from_page.isdigit()
                                             else "")
        context = {
            **context,
            "back_url": f"{back_url}#participant-{person.position}",
            "title": f"{person.display_name or '(guest)'}: {meeting.topic or meeting.uuid}",
            "person": person,
            "sessions": page.sessions,
            "charts": page.charts,
            "samples": page.samples,
            "summaries": page.summaries,
            "summary_headings": [heading for _key, heading in SUMMARY_COLUMNS],
        }
        return TemplateResponse(request, "admin/zoom_integration/zoommeeting/person.html",
                                context)
