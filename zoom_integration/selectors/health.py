"""Tenant health: one status per tenant with its reason, for the overview and the tenant page.

`tenant_health_overview` annotates every tenant in one query (last event, last sync, failures,
users, Zoom API calls today against the plan's daily cap, connection facts) and decides the
status in SQL, so the overview sorts worst-first; `health_from_row` words the reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import (
    BooleanField,
    Case,
    CharField,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from tenants.models import Tenant
from tenants.selectors import (
    credentials_annotations,
    credentials_of_row,
    tenant_ids_missing_credentials,
)

from ..models import (
    ConnectionState,
    DeliveryStatus,
    SyncRun,
    ZoomConnection,
    ZoomMeeting,
    ZoomUser,
    ZoomWebhookDelivery,
)
from ..models.metrics import FetchStatus
from .subqueries import count_subquery
from .usage import api_calls_today_annotate

# Deliveries and fetches that failed within this window make a tenant show "errors".
RECENT_ERRORS_WINDOW = dt.timedelta(hours=24)


class HealthCode:
    """One status per tenant; RANK orders the overview worst-first."""

    NEEDS_CREDENTIALS = "needs_credentials"
    AWAITING_VALIDATION = "awaiting_validation"
    AWAITING_AUTHORIZATION = "awaiting_authorization"
    HEALTHY = "healthy"
    NEEDS_REAUTH = "needs_reauth"
    DEAUTHORIZED = "deauthorized"
    ERRORS = "errors"

    LABELS = {
        NEEDS_CREDENTIALS: "Needs credentials",
        AWAITING_VALIDATION: "Awaiting URL validation",
        AWAITING_AUTHORIZATION: "Awaiting authorization",
        HEALTHY: "Healthy",
        NEEDS_REAUTH: "Needs re-authorization",
        DEAUTHORIZED: "Deauthorized",
        ERRORS: "Errors",
    }
    RANK = {ERRORS: 1, NEEDS_REAUTH: 2, DEAUTHORIZED: 3, NEEDS_CREDENTIALS: 4,
            AWAITING_VALIDATION: 5, AWAITING_AUTHORIZATION: 6, HEALTHY: 7}
    CHOICES = tuple(LABELS.items())


@dataclass(frozen=True)
class HealthStatus:
    code: str
    label: str
    reason: str

    @property
    def is_healthy(self) -> bool:
        return self.code == HealthCode.HEALTHY


def tenant_health_overview(*, base: QuerySet[Tenant] | None = None,
                           now: dt.datetime | None = None) -> QuerySet[Tenant]:
    """Every tenant, annotated with what the health overview shows, in one query.

    Annotations (all prefixed `h_`): status code and rank, last event (time and type), last sync
    (start, finish, status, error), failed deliveries (total and recent), users, Zoom API calls
    today in the capped categories against the plan's daily cap, and connection facts. Secret
    columns are deferred: rows never carry decrypted secrets. `base` narrows the tenants (a
    queryset of `Tenant` or a proxy of it).
    """
    now = now or timezone.now()
    since = now - RECENT_ERRORS_WINDOW
    tenant = OuterRef("pk")
    base = Tenant.objects.all() if base is None else base

    deliveries = ZoomWebhookDelivery.objects.filter(tenant=tenant).order_by("-received_at")
    syncs = SyncRun.objects.filter(tenant=tenant).order_by("-started_at", "-pk")

    qs = (
        base.select_related("zoom_connection")
        # Tokens and secrets stay in the database: the pages never need them.
        .defer("client_secret", "secret_token", "verification_token",
               "zoom_connection__access_token", "zoom_connection__refresh_token")
        .annotate(
            **credentials_annotations(),
            h_last_event_at=Subquery(deliveries.values("received_at")[:1],
                                     output_field=DateTimeField()),
            h_last_event=Subquery(deliveries.values("event")[:1], output_field=CharField()),
            h_failed_deliveries=count_subquery(
                ZoomWebhookDelivery.objects.filter(tenant=tenant, status=DeliveryStatus.FAILED)),
            h_recent_failed_deliveries=count_subquery(ZoomWebhookDelivery.objects.filter(
                tenant=tenant, status=DeliveryStatus.FAILED, received_at__gte=since)),
            h_last_sync_at=Subquery(syncs.values("started_at")[:1],
                                    output_field=DateTimeField()),
            h_last_sync_finished_at=Subquery(syncs.values("finished_at")[:1],
                                             output_field=DateTimeField()),
            h_last_sync_status=Subquery(syncs.values("status")[:1], output_field=CharField()),
            h_last_sync_error=Subquery(syncs.values("error")[:1], output_field=TextField()),
            h_users=count_subquery(
                ZoomUser.objects.filter(tenant=tenant, deleted_at__isnull=True)),
            h_recent_failed_fetches=count_subquery(ZoomMeeting.objects.filter(
                tenant=tenant, fetch_status=FetchStatus.FAILED).filter(
                Q(end_time__gte=since) | Q(end_time__isnull=True, ended_event_at__gte=since))),
            h_fetched_meetings=count_subquery(
                ZoomMeeting.objects.filter(tenant=tenant, fetch_status=FetchStatus.DONE)),
            h_conn_state=Coalesce("zoom_connection__state", Value(ConnectionState.NOT_CONNECTED)),
            h_validated=ExpressionWrapper(
                Q(zoom_connection__endpoint_validated_at__isnull=False)
                | Exists(ZoomWebhookDelivery.objects.filter(tenant=tenant)),
                output_field=BooleanField()),
            h_connection_error=ExpressionWrapper(
                Q(zoom_connection__last_error_at__isnull=False)
            & ~Q(zoom_connection__last_error="")
            & (Q(zoom_connection__last_refreshed_at__isnull=True)
               | Q(zoom_connection__last_error_at__gt=F("zoom_connection__last_refreshed_at")))
            & (Q(zoom_connection__authorized_at__isnull=True)
               | Q(zoom_connection__last_error_at__gt=F("zoom_connection__authorized_at"))),
                output_field=BooleanField()),
        )
    )
    qs = api_calls_today_annotate(qs, now=now)  # the one count of today's API calls
    missing = tenant_ids_missing_credentials(tenants=base)
    connected = Q(h_conn_state=ConnectionState.CONNECTED)
    errors = connected & (
        Q(h_recent_failed_deliveries__gt=0) | Q(h_last_sync_status=SyncRun.Status.FAILED)
        | Q(h_recent_failed_fetches__gt=0) | Q(h_connection_error=True)
        | Q(zoom_connection__dashboard_available=False))
    cases = [
        (Q(pk__in=missing) | Q(client_id="") | Q(cred_has_primary=False),
         HealthCode.NEEDS_CREDENTIALS),
        (Q(h_conn_state=ConnectionState.DEAUTHORIZED), HealthCode.DEAUTHORIZED),
        (Q(h_conn_state=ConnectionState.NEEDS_REAUTH)
         | (connected & ~Q(zoom_connection__missing_scopes="")), HealthCode.NEEDS_REAUTH),
        (Q(h_validated=False), HealthCode.AWAITING_VALIDATION),
        (~connected, HealthCode.AWAITING_AUTHORIZATION),
        (errors, HealthCode.ERRORS),
    ]
    return qs.annotate(
        h_status=Case(*[When(cond, then=Value(code)) for cond, code in cases],
                      default=Value(HealthCode.HEALTHY), output_field=CharField()),
        h_rank=Case(*[When(cond, then=Value(HealthCode.RANK[code])) for cond, code in cases],
                    default=Value(HealthCode.RANK[HealthCode.HEALTHY]),
                    output_field=IntegerField()),
    )


def fmt_time(value: dt.datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M %Z") if value else "never"


def health_from_row(row: Tenant) -> HealthStatus:
    """The status of a row from `tenant_health_overview`, with its reason (no queries)."""
    code = row.h_status
    conn: ZoomConnection | None = getattr(row, "zoom_connection", None)
    if code == HealthCode.NEEDS_CREDENTIALS:
        missing = credentials_of_row(row).missing
        reason = "Missing: " + ", ".join(missing) + "." if missing else "Credentials incomplete."
    elif code == HealthCode.DEAUTHORIZED:
        reason = ("The customer removed the app from their Zoom account; they must install "
                  "it again from the checklist's authorization link.")
    elif code == HealthCode.NEEDS_REAUTH:
        if conn and conn.state == ConnectionState.CONNECTED and conn.missing_scopes:
            reason = (f"Zoom did not grant: {conn.missing_scopes}. Add the scopes to the app, "
                      "then authorize again.")
        else:
            detail = f" Last error: {conn.last_error}" if conn and conn.last_error else ""
            reason = "Zoom no longer accepts the stored tokens; authorize again." + detail
    elif code == HealthCode.AWAITING_VALIDATION:
        reason = ("Zoom has not validated the event notification endpoint URL yet, and no event "
                  "has arrived.")
    elif code == HealthCode.AWAITING_AUTHORIZATION:
        reason = "Credentials are in; the customer has not authorized the app yet."
    elif code == HealthCode.ERRORS:
        problems = []
        if row.h_recent_failed_deliveries:
            problems.append(f"{row.h_recent_failed_deliveries} webhook deliveries failed in the "
                            "last 24 hours")
        if row.h_last_sync_status == SyncRun.Status.FAILED:
            error = f": {row.h_last_sync_error}" if row.h_last_sync_error else ""
            problems.append(f"the last directory sync failed{error}")
        if row.h_recent_failed_fetches:
            problems.append(f"{row.h_recent_failed_fetches} meeting metrics fetches failed in "
                            "the last 24 hours")
        if conn and conn.dashboard_available is False:
            problems.append("Zoom says the account has no Dashboard (Business plan or higher "
                            "with the Dashboard enabled is needed)")
        if row.h_connection_error and conn:
            problems.append(f"Zoom API error at {fmt_time(conn.last_error_at)}: "
                            f"{conn.last_error}")
        text = "; ".join(problems)
        reason = text[:1].upper() + text[1:] + "." if problems else "Recent errors."
    else:
        reason = f"Authorized; last event {fmt_time(row.h_last_event_at)}."
    return HealthStatus(code=code, label=HealthCode.LABELS[code], reason=reason)


def tenant_health_row(*, tenant: Tenant) -> Tenant:
    """One tenant's row of the overview (one query)."""
    return tenant_health_overview(base=Tenant.objects.filter(pk=tenant.pk)).get()


def tenant_health(*, tenant: Tenant) -> HealthStatus:
    return health_from_row(tenant_health_row(tenant=tenant))
