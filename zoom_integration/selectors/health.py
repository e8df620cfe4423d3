"""Tenant health: one status per tenant with its reason, for the overview and the tenant page.

`tenant_health_overview` annotates every tenant in one query (last event, last sync, failures,
users, Zoom API calls today against the plan's daily cap, connection facts) and decides the
status in SQL, so the overview sorts worst-first; `health_from_row` words the reason.

The reasons say what happened and what to do, and name what only the raw data knows: events
refused for a bad signature while none is accepted (a wrong Secret Token: the deliveries never
exist, so "failed deliveries" stays 0), an authorization revoked by staff (not "never
authorized"), and a tenant without a primary hostname (its customer pages are not served).

Beside the status, a warning that leaves it as it is: meeting fetches parked on Zoom's daily cap
(they resume by themselves after 00:00 UTC). The overview words it from its annotations
(`backlog_from_row`: how many, the oldest end); the tenant's page adds when fetching resumes and
when it should be through (`tenant_backlog_warning`, from `budget.tenant_fetch_backlog`).
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
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from nectar_portal.display import counted, when
from tenants.models import Tenant
from tenants.selectors import (
    credentials_annotations,
    credentials_of_row,
    tenant_ids_missing_credentials,
)

from ..budget import tenant_fetch_backlog
from ..capabilities import connection_capability_state, scope_missing_message
from ..messages import staff_text
from ..models import (
    ConnectionState,
    DeliveryStatus,
    SyncRun,
    WebhookRejection,
    ZoomConnection,
    ZoomMeeting,
    ZoomUser,
    ZoomWebhookDelivery,
)
from ..models.metrics import FetchStatus
from ..webhooks.receive import Reason
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
    MISSING_SCOPES = "missing_scopes"
    DEAUTHORIZED = "deauthorized"
    ERRORS = "errors"

    LABELS = {
        NEEDS_CREDENTIALS: "Needs credentials",
        AWAITING_VALIDATION: "Awaiting URL validation",
        AWAITING_AUTHORIZATION: "Awaiting authorization",
        HEALTHY: "Healthy",
        NEEDS_REAUTH: "Needs re-authorization",
        MISSING_SCOPES: "Missing scopes",
        DEAUTHORIZED: "Deauthorized",
        ERRORS: "Errors",
    }
    RANK = {ERRORS: 1, NEEDS_REAUTH: 2, MISSING_SCOPES: 3, DEAUTHORIZED: 4, NEEDS_CREDENTIALS: 5,
            AWAITING_VALIDATION: 6, AWAITING_AUTHORIZATION: 7, HEALTHY: 8}
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
    today in the capped categories against the plan's daily cap, meeting fetches parked on that
    cap (how many, the oldest end), and connection facts. Secret columns are deferred: rows
    never carry decrypted secrets. `base` narrows the tenants (a queryset of `Tenant` or a proxy
    of it).
    """
    now = now or timezone.now()
    since = now - RECENT_ERRORS_WINDOW
    tenant = OuterRef("pk")
    base = Tenant.objects.all() if base is None else base

    deliveries = ZoomWebhookDelivery.objects.filter(tenant=tenant).order_by("-received_at")
    parked = ZoomMeeting.objects.filter(tenant=tenant, fetch_status=FetchStatus.PARKED)
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
            # A warning, not a status: parked fetches resume by themselves after the reset.
            h_parked_fetches=count_subquery(parked),
            h_parked_oldest_end=Subquery(
                parked.order_by(F("end_time").asc(nulls_last=True)).values("end_time")[:1],
                output_field=DateTimeField()),
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
        .annotate(**_refused_annotations(tenant=tenant, since=since))
        .annotate(h_events_refused=ExpressionWrapper(
            Q(h_refused_signatures__gt=0) & ~Exists(ZoomWebhookDelivery.objects.filter(
                tenant=tenant, received_at__gt=OuterRef("h_last_refused_at"))),
            output_field=BooleanField()))
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
        # Nothing from Zoom gets in (deauthorization events included): the first thing to fix.
        (Q(h_events_refused=True), HealthCode.ERRORS),
        (Q(h_conn_state=ConnectionState.DEAUTHORIZED), HealthCode.DEAUTHORIZED),
        (Q(h_conn_state=ConnectionState.NEEDS_REAUTH), HealthCode.NEEDS_REAUTH),
        # A required capability no granted scope covers, or that Zoom refused (4711). Optional
        # (overview) capabilities are never stored here, so they never count.
        (connected & ~Q(zoom_connection__missing_capabilities=""), HealthCode.MISSING_SCOPES),
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


# Refusals that mean "the Secret Token here is not the app's" when none is accepted since.
SIGNATURE_REFUSALS = (Reason.BAD_SIGNATURE,)


def _refused_annotations(*, tenant, since: dt.datetime) -> dict:
    """Events refused for a bad signature in the window: how many, and the last one's time."""
    refused = (WebhookRejection.objects.filter(tenant=tenant, reason__in=SIGNATURE_REFUSALS,
                                               last_at__gte=since)
               .order_by().values("tenant"))
    return {
        "h_refused_signatures": Coalesce(Subquery(refused.annotate(_s=Sum("count")).values("_s"),
                                                  output_field=IntegerField()), 0),
        "h_last_refused_at": Subquery(refused.annotate(_m=Max("last_at")).values("_m"),
                                      output_field=DateTimeField()),
    }


def revoked_by_staff(conn: ZoomConnection | None) -> bool:
    """Authorized once, now not connected: only staff's Revoke (or Forget) leaves it so."""
    return bool(conn and conn.state == ConnectionState.NOT_CONNECTED and conn.authorized_at)


def _not_served_reason(row: Tenant) -> str:
    missing = [m for m in credentials_of_row(row).missing if m != "a primary hostname"]
    text = ("No primary hostname: the customer's authorization link, Redirect URL and event "
            "URL are not served. Add one on the tenant's page.")
    return text + (" Also missing: " + ", ".join(missing) + "." if missing else "")


def fmt_time(value: dt.datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M %Z") if value else "never"


def health_from_row(row: Tenant) -> HealthStatus:
    """The status of a row from `tenant_health_overview`, with its reason (no queries)."""
    code = row.h_status
    conn: ZoomConnection | None = getattr(row, "zoom_connection", None)
    if code == HealthCode.NEEDS_CREDENTIALS and not row.cred_has_primary:
        reason = _not_served_reason(row)
    elif code == HealthCode.NEEDS_CREDENTIALS:
        missing = credentials_of_row(row).missing
        reason = "Missing: " + ", ".join(missing) + "." if missing else "Credentials incomplete."
    elif code == HealthCode.DEAUTHORIZED:
        reason = ("The customer removed the app from their Zoom account; they must install "
                  "it again from the checklist's authorization link.")
    elif code == HealthCode.NEEDS_REAUTH:
        detail = f" Last error: {conn.last_error}" if conn and conn.last_error else ""
        reason = "Zoom no longer accepts the stored tokens; authorize again." + detail
    elif code == HealthCode.MISSING_SCOPES:
        state = connection_capability_state(conn)
        reason = (scope_missing_message(state.missing_names) + " Missing capabilities: "
                  + ", ".join(c.label for c in state.missing) + ".")
    elif code == HealthCode.AWAITING_VALIDATION:
        reason = ("Zoom has not validated the event notification endpoint URL yet, and no event "
                  "has arrived.")
    elif code == HealthCode.AWAITING_AUTHORIZATION and revoked_by_staff(conn):
        when = f" on {fmt_time(conn.last_error_at)}" if conn.last_error_at else ""
        reason = f"Revoked by staff{when}: send the customer the link to authorize again."
    elif code == HealthCode.AWAITING_AUTHORIZATION:
        reason = "Credentials are in; the customer has not authorized the app yet."
    elif code == HealthCode.ERRORS:
        problems = []
        if row.h_events_refused:
            problems.append(
                f"Zoom's events are refused: {row.h_refused_signatures} had a bad signature in "
                "the last 24 hours and none was accepted since. Check the Secret Token: it must "
                "be the one on the app's Access page in Zoom")
        if row.h_recent_failed_deliveries:
            problems.append(counted(row.h_recent_failed_deliveries, "webhook delivery",
                                    "webhook deliveries") + " failed in the last 24 hours")
        if row.h_last_sync_status == SyncRun.Status.FAILED:
            error = (f": {staff_text(row.h_last_sync_error).rstrip('.')}"
                     if row.h_last_sync_error else "")
            problems.append(f"the last directory sync failed{error}")
        if row.h_recent_failed_fetches:
            problems.append(counted(row.h_recent_failed_fetches, "meeting metrics fetch",
                                    "meeting metrics fetches") + " failed in the last 24 hours")
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


def _parked_words(count: int, oldest_end: dt.datetime | None) -> str:
    oldest = f" (oldest ended {when(oldest_end)})" if oldest_end else ""
    return (counted(count, "meeting waits", "meetings wait")
            + f" for Zoom's daily limit{oldest}")


def backlog_from_row(row: Tenant) -> str:
    """The overview's warning about fetches parked on the daily cap, "" when none (no queries).

    Only the count and the oldest end: the clearing estimate costs queries per tenant, so it is
    on the tenant's page (`tenant_backlog_warning`)."""
    if not row.h_parked_fetches:
        return ""
    return _parked_words(row.h_parked_fetches, row.h_parked_oldest_end) + "."


def tenant_backlog_warning(*, tenant: Tenant, now: dt.datetime | None = None) -> str:
    """The tenant page's warning: how many fetches wait for Zoom's daily limit, since when,
    when fetching resumes and when it should be through; "" when none waits."""
    now = now or timezone.now()
    backlog = tenant_fetch_backlog(tenant=tenant, now=now)
    if not backlog.parked:
        return ""
    # The beat re-queues parked fetches every few minutes: a reset already past means they
    # are about to start (the estimate then counts from now).
    resumes = "now" if backlog.resumes_at <= now else f"at {when(backlog.resumes_at)}"
    return (_parked_words(backlog.parked, backlog.oldest_end)
            + f"; fetching resumes {resumes} and should be through by {when(backlog.clears_by)}.")


def tenant_health_row(*, tenant: Tenant) -> Tenant:
    """One tenant's row of the overview (one query)."""
    return tenant_health_overview(base=Tenant.objects.filter(pk=tenant.pk)).get()


def tenant_health(*, tenant: Tenant) -> HealthStatus:
    return health_from_row(tenant_health_row(tenant=tenant))
