"""Webhook deliveries and refusals in the admin: read-only, with "Process again".

Deliveries: filters by tenant, event, status and date; the stored body as pretty JSON; the
"Process again" action (also `manage.py webhook_reprocess`). Refusals: per-day tallies, and
totals by reason above the list. Nobody adds, edits or deletes here: deliveries are evidence.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import Max, Sum
from django.utils.html import format_html

from nectar_portal.display import from_epoch_ms, truncated, when
from portal_security.access import tenant_write_action

from ..models import WebhookRejection, ZoomWebhookDelivery
from ..queueing import webhook_delivery_enqueue
from ..webhooks.process import webhook_deliveries_requeue
from ..webhooks.receive import Reason
from .base import ReadOnlyTenantDataAdmin


@admin.register(ZoomWebhookDelivery)
class ZoomWebhookDeliveryAdmin(ReadOnlyTenantDataAdmin):
    # Fits 1366 px: Zoom's repeat deliveries are on each delivery's page, long text is cut.
    list_display = ("id", "tenant_name", "event", "status", "tries", "received_at",
                    "processed_at", "short_error")
    list_filter = ("tenant", "event", "status", "received_at")
    list_select_related = ("tenant",)
    date_hierarchy = "received_at"
    search_fields = ("dedupe_key", "account_id")
    actions = ["process_again"]
    fields = ("tenant", "event", "status", "event_time", "account_id", "dedupe_key",
              "received_at", "due_at", "started_at", "processed_at", "attempts", "sweeps",
              "duplicates", "remote_addr", "headers_pretty", "payload_pretty", "last_error",
              "traceback")
    readonly_fields = fields

    @admin.display(description="Tenant", ordering="tenant__name")
    def tenant_name(self, delivery):
        return truncated(delivery.tenant.name, em=14)

    @admin.display(description="Last error")
    def short_error(self, delivery):
        return truncated(delivery.last_error, em=16)

    @admin.display(description="Tries", ordering="attempts")
    def tries(self, delivery):
        return delivery.attempts

    @admin.display(description="Event time")
    def event_time(self, delivery):
        """Zoom stamps events in milliseconds; staff read a date."""
        return when(from_epoch_ms(delivery.event_ts))

    @admin.display(description="Body (as received, shown indented)")
    def payload_pretty(self, delivery):
        try:
            text = json.dumps(json.loads(delivery.body), indent=2, ensure_ascii=False,
                              sort_keys=True)
        except ValueError:
            text = delivery.body
        return format_html('<pre class="webhook-payload">{}</pre>', text)

    @admin.display(description="Headers")
    def headers_pretty(self, delivery):
        return format_html("<pre>{}</pre>", json.dumps(delivery.headers, indent=2, sort_keys=True))

    def has_process_permission(self, request):
        # Re-running changes the directory and schedules fetches: the model's change permission.
        return request.user.has_perm("zoom_integration.change_zoomwebhookdelivery")

    @tenant_write_action
    @admin.action(description="Process again", permissions=["process"])
    def process_again(self, request, queryset):
        ids = webhook_deliveries_requeue(delivery_ids=list(queryset.values_list("pk", flat=True)))
        queued = sum(webhook_delivery_enqueue(delivery_id=pk) for pk in ids)
        skipped = queryset.count() - len(ids)
        message = f"Queued {queued} of {len(ids)} deliveries for processing."
        if skipped:
            message += f" {skipped} being processed right now were left alone."
        if queued < len(ids):
            message += " The broker did not answer: the rest are pending and will be swept."
        self.message_user(request, message,
                          messages.SUCCESS if queued == len(ids) else messages.WARNING)


def reason_label(code: str) -> str:
    """"bad_signature" as staff read it: "Bad signature"."""
    return code.replace("_", " ").capitalize() if code else "—"


class ReasonFilter(admin.SimpleListFilter):
    """The reasons present, in words ("Bad signature"), not as stored codes."""

    title = "reason"
    parameter_name = "reason"

    def lookups(self, request, model_admin):
        codes = (model_admin.get_queryset(request).order_by("reason")
                 .values_list("reason", flat=True).distinct())
        return [(code, reason_label(code)) for code in codes]

    def queryset(self, request, queryset):
        return queryset.filter(reason=self.value()) if self.value() else queryset


@admin.register(WebhookRejection)
class WebhookRejectionAdmin(ReadOnlyTenantDataAdmin):
    list_display = ("day", "tenant", "reason_label", "meaning", "count", "last_at")
    list_filter = (ReasonFilter, "tenant", "day")
    list_select_related = ("tenant",)
    date_hierarchy = "day"
    readonly_fields = ("tenant", "reason", "day", "count", "last_at")

    @admin.display(description="Reason", ordering="reason")
    def reason_label(self, rejection):
        return reason_label(rejection.reason)

    @admin.display(description="Meaning")
    def meaning(self, rejection):
        return Reason.DESCRIPTIONS.get(rejection.reason, "")

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context=extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            rows = (changelist.queryset.order_by().values("reason")
                    .annotate(total=Sum("count"), last=Max("last_at")).order_by("-total"))
            response.context_data["rejections_by_reason"] = [
                {**row, "label": reason_label(row["reason"]),
                 "description": Reason.DESCRIPTIONS.get(row["reason"], "")}
                for row in rows]
        return response
