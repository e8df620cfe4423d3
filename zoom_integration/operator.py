"""What staff see about each tenant: health, the setup checklist, meeting quality (read-only).

Selectors only: every value is computed here from the database, so the pages do not depend on
the workers', webhook or OAuth modules beyond the models they write. Nothing here writes, and
nothing here returns a secret: credentials are reported as "received" or "missing", never shown.

Pages built on these selectors must stay fast with many tenants and meetings, so per-row facts
come from correlated subqueries (one query per page) rather than per-row lookups.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from tenants.models import Tenant, ZoomPlan
from tenants.selectors import (
    credentials_annotations,
    credentials_of_row,
    tenant_ids_missing_credentials,
    tenant_zoom_urls,
)

from .models import (
    ApiUsage,
    ConnectionState,
    DeliveryStatus,
    QosSample,
    SyncRun,
    WebhookRejection,
    ZoomConnection,
    ZoomGroupMembership,
    ZoomMeeting,
    ZoomParticipant,
    ZoomUser,
    ZoomWebhookDelivery,
)
from .models.metrics import FetchStatus, Quality
from .oauth import REQUIRED_SCOPE_DESCRIPTIONS

# --- Constants the pages explain -------------------------------------------------------------

# Zoom's daily cap counts Heavy and Resource-intensive calls together;
# Pro 30,000/day, Business and higher 60,000/day, per account.
DAILY_CAP_BY_PLAN = {ZoomPlan.PRO: 30_000, ZoomPlan.BUSINESS: 60_000}
CAPPED_CATEGORIES_REGEX = r"^(heavy|resource[-_ ]?intensive)$"

# The events the customer subscribes the app to, as Zoom's UI names them, with the event type
# each one sends.
SUBSCRIBED_EVENTS = (
    ("End Meeting", "meeting.ended"),
    ("End Webinar", "webinar.ended"),
    ("User has been created", "user.created"),
    ("User has been deleted", "user.deleted"),
    ("User's profile info has been updated", "user.updated"),
)

# Classic scopes for meetings, webinars, users, dashboard (meetings, webinars, usage overview) and
# groups.
# One list of scopes, owned by the OAuth module that checks them.
REQUIRED_SCOPES = REQUIRED_SCOPE_DESCRIPTIONS

# Deliveries and fetches that failed within this window make a tenant show "errors".
RECENT_ERRORS_WINDOW = dt.timedelta(hours=24)

STREAMS = ("audio_input", "audio_output", "video_input", "video_output", "as_input", "as_output")
STREAM_LABELS = {
    "audio_input": "Audio in", "audio_output": "Audio out", "video_input": "Video in",
    "video_output": "Video out", "as_input": "Screen share in", "as_output": "Screen share out",
}
# Chart metric -> (label, unit, keys in QosSample.metrics[stream], tried in order).
CHART_METRICS = {
    "latency": ("Latency (round trip)", "ms", ("latency_ms", "latency")),
    "jitter": ("Jitter", "ms", ("jitter_ms", "jitter")),
    "loss": ("Packet loss (average)", "%", ("avg_loss_pct", "avg_loss", "loss_pct")),
}


# --- Tenant health ---------------------------------------------------------------------------


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


def _count_subquery(qs: QuerySet) -> Coalesce:
    """COUNT(*) of a correlated queryset as an annotation (no join fan-out on the outer rows)."""
    counted = qs.order_by().annotate(_one=Value(1)).values("_one").annotate(
        _n=Count("*")).values("_n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


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
    today = now.astimezone(dt.UTC).date()  # Zoom's daily counters reset at 00:00 UTC
    tenant = OuterRef("pk")
    base = Tenant.objects.all() if base is None else base

    deliveries = ZoomWebhookDelivery.objects.filter(tenant=tenant).order_by("-received_at")
    syncs = SyncRun.objects.filter(tenant=tenant).order_by("-started_at", "-pk")
    usage_today = ApiUsage.objects.filter(tenant=tenant, day=today)
    capped_usage = (usage_today.filter(category__iregex=CAPPED_CATEGORIES_REGEX).order_by()
                    .values("tenant").annotate(_s=Sum("calls")).values("_s"))
    all_usage = usage_today.order_by().values("tenant").annotate(_s=Sum("calls")).values("_s")
    limited_usage = (usage_today.order_by().values("tenant").annotate(_s=Sum("rate_limited"))
                     .values("_s"))

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
            h_failed_deliveries=_count_subquery(
                ZoomWebhookDelivery.objects.filter(tenant=tenant, status=DeliveryStatus.FAILED)),
            h_recent_failed_deliveries=_count_subquery(ZoomWebhookDelivery.objects.filter(
                tenant=tenant, status=DeliveryStatus.FAILED, received_at__gte=since)),
            h_last_sync_at=Subquery(syncs.values("started_at")[:1],
                                    output_field=DateTimeField()),
            h_last_sync_finished_at=Subquery(syncs.values("finished_at")[:1],
                                             output_field=DateTimeField()),
            h_last_sync_status=Subquery(syncs.values("status")[:1], output_field=CharField()),
            h_last_sync_error=Subquery(syncs.values("error")[:1], output_field=TextField()),
            h_users=_count_subquery(
                ZoomUser.objects.filter(tenant=tenant, deleted_at__isnull=True)),
            h_recent_failed_fetches=_count_subquery(ZoomMeeting.objects.filter(
                tenant=tenant, fetch_status=FetchStatus.FAILED).filter(
                Q(end_time__gte=since) | Q(end_time__isnull=True, ended_event_at__gte=since))),
            h_fetched_meetings=_count_subquery(
                ZoomMeeting.objects.filter(tenant=tenant, fetch_status=FetchStatus.DONE)),
            h_api_calls_today=Coalesce(Subquery(capped_usage, output_field=IntegerField()), 0),
            h_api_calls_today_all=Coalesce(Subquery(all_usage, output_field=IntegerField()), 0),
            h_rate_limited_today=Coalesce(Subquery(limited_usage, output_field=IntegerField()),
                                          0),
            h_daily_cap=Case(
                *[When(zoom_plan=plan, then=Value(cap)) for plan, cap in
                  DAILY_CAP_BY_PLAN.items()],
                default=Value(DAILY_CAP_BY_PLAN[ZoomPlan.BUSINESS]), output_field=IntegerField()),
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
        .annotate(h_api_cap_share=Cast(F("h_api_calls_today"), FloatField())
                  / Cast(F("h_daily_cap"), FloatField()))
    )
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


def _fmt_time(value: dt.datetime | None) -> str:
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
            problems.append(f"Zoom API error at {_fmt_time(conn.last_error_at)}: "
                            f"{conn.last_error}")
        text = "; ".join(problems)
        reason = text[:1].upper() + text[1:] + "." if problems else "Recent errors."
    else:
        reason = f"Authorized; last event {_fmt_time(row.h_last_event_at)}."
    return HealthStatus(code=code, label=HealthCode.LABELS[code], reason=reason)


def _health_row(tenant: Tenant) -> Tenant:
    return tenant_health_overview(base=Tenant.objects.filter(pk=tenant.pk)).get()


def tenant_health(*, tenant: Tenant) -> HealthStatus:
    return health_from_row(_health_row(tenant))


# --- Setup checklist -------------------------------------------------------------------------


class StepState:
    DONE = "done"
    TODO = "todo"
    PROBLEM = "problem"
    MANUAL = "manual"  # the portal cannot see it; the customer confirms it

    LABELS = {DONE: "Done", TODO: "To do", PROBLEM: "Needs attention",
              MANUAL: "Not visible to the portal"}


@dataclass(frozen=True)
class ChecklistValue:
    """A value the customer copies into Zoom (`value` None: not available yet, see `missing`)."""

    label: str
    value: str | None
    missing: str = ""


@dataclass(frozen=True)
class ChecklistStep:
    number: int
    key: str
    title: str
    instructions: str
    state: str
    detail: str = ""
    values: tuple[ChecklistValue, ...] = ()
    items: tuple[str, ...] = ()  # plain list items (e.g. the events to tick)
    who: str = "customer"  # "customer" does it in Zoom; "portal" is a check the portal runs

    @property
    def state_label(self) -> str:
        return StepState.LABELS[self.state]


def setup_checklist(*, tenant: Tenant) -> list[ChecklistStep]:
    """The customer's steps in order, each with this tenant's exact values and detected state."""
    row = _health_row(tenant)
    health = health_from_row(row)
    conn: ZoomConnection | None = getattr(row, "zoom_connection", None)
    urls = tenant_zoom_urls(tenant=row)
    no_host = "Add a primary hostname to the tenant first."
    last_delivery = (ZoomWebhookDelivery.objects.filter(tenant=row)
                     .only("event", "received_at", "status").order_by("-received_at").first())
    last_good_sync = (SyncRun.objects.filter(tenant=row, status=SyncRun.Status.SUCCEEDED)
                      .only("finished_at", "users_seen").order_by("-started_at").first())
    credentials = credentials_of_row(row)
    authorized = conn is not None and conn.state == ConnectionState.CONNECTED
    ever_authorized = conn is not None and conn.authorized_at is not None

    def done_if(condition: bool, otherwise: str = StepState.TODO) -> str:
        return StepState.DONE if condition else otherwise

    steps: list[dict] = []

    steps.append(dict(
        key="create_app", title="Create an account-level OAuth app (do not publish it)",
        instructions=(
            "In the Zoom App Marketplace, choose Develop > Build App > General App. Choose "
            "\"Admin-managed\" (account-level) and keep it unpublished: a private app stays "
            "inside your Zoom account. Name it, for example, \"Nectar call quality\"."),
        state=done_if(bool(row.client_id)),
        detail="We have the app's Client ID." if row.client_id else "No Client ID yet.",
    ))
    creds_missing = credentials.app_missing
    steps.append(dict(
        key="credentials", title="Send us the Client ID and Client Secret",
        instructions=("On the app's Basic Information (App Credentials) page, copy the Client "
                      "ID and the Client Secret and send them to us through a secure channel."),
        state=done_if(not creds_missing,
                      StepState.PROBLEM if any("decrypted" in m for m in creds_missing)
                      else StepState.TODO),
        detail=("Client ID and Client Secret received." if not creds_missing
                else "Missing: " + ", ".join(creds_missing) + "."),
    ))
    steps.append(dict(
        key="redirect_url", title="Enter the Redirect URL for OAuth",
        instructions=("On the same page, under OAuth Information, paste this exact value as "
                      "the \"OAuth Redirect URL\" (no trailing slash, no query)."),
        values=(ChecklistValue("Redirect URL for OAuth", urls.redirect_url, no_host),),
        state=done_if(ever_authorized),
        detail=("Confirmed: Zoom sent the customer back to it." if ever_authorized
                else "Confirmed when the customer authorizes."),
    ))
    steps.append(dict(
        key="allow_list", title="Add the OAuth allow list entry",
        instructions="Under \"OAuth allow list\", add this value.",
        values=(ChecklistValue("OAuth allow list", urls.allow_list_url, no_host),),
        state=done_if(ever_authorized),
        detail=("Confirmed: Zoom accepted the redirect." if ever_authorized
                else "Confirmed when the customer authorizes."),
    ))
    steps.append(dict(
        key="descriptions", title="Fill in the app's information",
        instructions=("Zoom requires a short description, a long description and developer "
                      "contact details even for a private app. Any accurate text works, "
                      "for example the values below."),
        values=(ChecklistValue("Short description", "Call-quality analytics for our Zoom "
                                                    "meetings."),
                ChecklistValue("Long description",
                               "Reads meeting and webinar quality data (Dashboard) and the user "
                               "directory so our analytics vendor can report call quality.")),
        state=StepState.MANUAL,
        detail="Zoom does not tell us about this step.",
    ))
    validated_at = conn.endpoint_validated_at if conn else None
    if validated_at:
        sub_state = StepState.DONE
        sub_detail = f"Zoom validated the URL at {_fmt_time(validated_at)}."
    elif last_delivery:
        sub_state, sub_detail = (StepState.DONE, "Events arrive, so Zoom accepted the URL "
                                                 "(validation time not recorded).")
    else:
        sub_state, sub_detail = StepState.TODO, "Zoom has not validated the URL yet."
    steps.append(dict(
        key="event_subscription", title="Add an event subscription",
        instructions=("Under Features > Access, turn on Event Subscription, add a subscription "
                      "with method \"Webhook\", paste the endpoint URL, press \"Validate\" "
                      "(it must turn green) and add exactly these five events:"),
        values=(ChecklistValue("Event notification endpoint URL", urls.event_url, no_host),),
        items=tuple(f"{label} ({event})" for label, event in SUBSCRIBED_EVENTS),
        state=sub_state, detail=sub_detail,
    ))
    token_missing = credentials.token_missing
    steps.append(dict(
        key="secret_token", title="Send us the Secret Token",
        instructions=("On the same Access page, copy the Secret Token (older apps: the "
                      "Verification Token) and send it to us securely. Zoom signs every event "
                      "with it."),
        state=done_if(not token_missing,
                      StepState.PROBLEM if any("decrypted" in m for m in token_missing)
                      else StepState.TODO),
        detail="Received." if not token_missing else "Missing: " + ", ".join(token_missing),
    ))
    granted = conn.scopes.split() if conn and conn.scopes else []
    if authorized and conn.missing_scopes:
        scope_state = StepState.PROBLEM
        scope_detail = (f"Zoom did not grant: {conn.missing_scopes}. Add them, then authorize "
                        "again.")
    elif authorized or (conn and granted):
        scope_state, scope_detail = StepState.DONE, f"Granted: {' '.join(granted) or '—'}."
    else:
        scope_state, scope_detail = StepState.TODO, "Checked when the customer authorizes."
    steps.append(dict(
        key="scopes", title="Add the scopes",
        instructions="Under Scopes, add each of these scopes (search by name or description):",
        values=tuple(ChecklistValue(description, scope) for scope, description in
                     REQUIRED_SCOPES),
        state=scope_state, detail=scope_detail,
    ))
    install_detail = ("Received." if row.installation_url else
                      "Not received yet (optional: the link below installs the app too).")
    steps.append(dict(
        key="installation_url", title="Send us the Installation URL",
        instructions=("Under Local Test (or Activation), copy the Installation URL (Zoom's "
                      "authorization URL for this app) and send it to us."),
        state=done_if(bool(row.installation_url)),
        detail=install_detail,
    ))
    if authorized:
        auth_state = StepState.DONE if not conn.missing_scopes else StepState.PROBLEM
        by = f" by {conn.authorized_by_email}" if conn.authorized_by_email else ""
        auth_detail = (f"Authorized{by} at {_fmt_time(conn.authorized_at)}; Zoom account "
                       f"{row.zoom_account_id or '(unknown)'}.")
    elif conn and conn.state in (ConnectionState.NEEDS_REAUTH, ConnectionState.DEAUTHORIZED):
        auth_state, auth_detail = StepState.PROBLEM, health.reason
    else:
        auth_state, auth_detail = StepState.TODO, "Not authorized yet."
    steps.append(dict(
        key="authorize", title="Authorize the app",
        instructions=("A Zoom admin of your account opens this link, signs in to Zoom if asked, "
                      "and presses \"Allow\". They land on a page saying the connection "
                      "succeeded."),
        values=(ChecklistValue("Authorization link", urls.oauth_start_url, no_host),),
        state=auth_state, detail=auth_detail,
    ))
    refused = list(WebhookRejection.objects.filter(
        tenant=row, last_at__gte=timezone.now() - RECENT_ERRORS_WINDOW)
        .values_list("reason", "count").order_by("-count")[:5])
    refused_text = ""
    if refused:
        refused_text = (" Refused in the last 24 hours: "
                        + ", ".join(f"{count} × {reason}" for reason, count in refused)
                        + " (a wrong Secret Token shows up as bad signatures).")
    if last_delivery:
        ev_state = StepState.DONE
        ev_detail = (f"Last event: {last_delivery.event} at {_fmt_time(last_delivery.received_at)}"
                     f" ({last_delivery.get_status_display().lower()}).")
        if row.h_recent_failed_deliveries:
            ev_state = StepState.PROBLEM
            ev_detail += (f" {row.h_recent_failed_deliveries} failed in the last 24 hours.")
    else:
        ev_state, ev_detail = StepState.TODO, "No event has arrived yet."
    if refused:
        ev_state = StepState.PROBLEM
        ev_detail += refused_text
    steps.append(dict(
        key="events", title="Events arrive", who="portal",
        instructions="The portal receives Zoom's events after a meeting ends or a user changes.",
        state=ev_state, detail=ev_detail,
    ))
    if row.h_last_sync_status == SyncRun.Status.FAILED:
        sync_state = StepState.PROBLEM
        sync_detail = f"The last sync failed: {row.h_last_sync_error or 'no detail'}."
    elif last_good_sync:
        sync_state = StepState.DONE
        sync_detail = (f"Last synced at {_fmt_time(last_good_sync.finished_at)}; "
                       f"{row.h_users} users.")
    elif row.h_last_sync_status == SyncRun.Status.RUNNING:
        sync_state, sync_detail = StepState.TODO, "The first sync is running."
    else:
        sync_state, sync_detail = StepState.TODO, "No sync yet."
    steps.append(dict(
        key="users_synced", title="Users synced", who="portal",
        instructions="The portal copies the account's users and groups after authorization.",
        state=sync_state, detail=sync_detail,
    ))
    dashboard = conn.dashboard_available if conn else None
    if dashboard is False:
        dash_state = StepState.PROBLEM
        dash_detail = ("Zoom says the account has no Dashboard: a Business plan or higher with "
                       "the Dashboard enabled is needed.")
    elif row.h_fetched_meetings:
        dash_state = StepState.DONE
        dash_detail = f"Quality data fetched for {row.h_fetched_meetings} meetings or webinars."
    elif dashboard:
        dash_state = StepState.DONE
        dash_detail = ("The Dashboard answers; quality data appears after the next meeting "
                       "ends.")
    else:
        dash_state, dash_detail = StepState.TODO, "No meeting quality data yet."
    steps.append(dict(
        key="dashboard", title="Dashboard data available", who="portal",
        instructions="After a meeting or webinar ends, the portal fetches its quality data.",
        state=dash_state, detail=dash_detail,
    ))
    return [ChecklistStep(number=i, **step) for i, step in enumerate(steps, start=1)]


# --- Meeting quality -------------------------------------------------------------------------


def meetings_with_quality(qs: QuerySet[ZoomMeeting] | None = None) -> QuerySet[ZoomMeeting]:
    """Meetings annotated from their participant rows: counts, share of poor, worst metric.

    `q_participants`, `q_poor`, `q_classified` (ints), `q_poor_share` (0..1, None when no
    participant was classified) and `q_worst` (the reason of the lowest-MOS poor participant,
    else the meeting's own `worst_metric`).
    """
    qs = ZoomMeeting.objects.all() if qs is None else qs
    meeting = OuterRef("pk")
    parts = ZoomParticipant.objects.filter(meeting=meeting)
    worst = (parts.filter(quality=Quality.POOR).exclude(quality_reason="")
             .order_by(F("mos").asc(nulls_last=True), "position").values("quality_reason")[:1])
    qs = qs.select_related("tenant").annotate(
        q_participants=_count_subquery(parts),
        q_poor=_count_subquery(parts.filter(quality=Quality.POOR)),
        q_classified=_count_subquery(parts.exclude(quality=Quality.UNCLASSIFIED)),
        q_worst=Coalesce(Subquery(worst, output_field=TextField()), F("worst_metric"),
                         output_field=TextField()),
    )
    return qs.annotate(q_poor_share=Case(
        When(q_classified=0, then=Value(None)),
        default=Cast(F("q_poor"), FloatField()) / Cast(F("q_classified"), FloatField()),
        output_field=FloatField()))


def meetings_filter(qs: QuerySet[ZoomMeeting], *, tenant_id: int | None = None,
                    date_from: dt.date | None = None, date_to: dt.date | None = None,
                    user_id: int | None = None, group_id: int | None = None,
                    quality: str | None = None, kind: str | None = None
                    ) -> QuerySet[ZoomMeeting]:
    """Filters of the meeting list. A user matches as host or participant; a group through
    its members. Dates are inclusive days of the meeting's end (UTC)."""
    if tenant_id:
        qs = qs.filter(tenant_id=tenant_id)
    if date_from:
        qs = qs.filter(end_time__date__gte=date_from)
    if date_to:
        qs = qs.filter(end_time__date__lte=date_to)
    if quality:
        qs = qs.filter(quality=quality)
    if kind:
        qs = qs.filter(kind=kind)
    if user_id:
        user = ZoomUser.objects.filter(pk=user_id).values("tenant_id", "zoom_id")
        qs = qs.filter(
            Exists(ZoomParticipant.objects.filter(meeting=OuterRef("pk"), user_id=user_id))
            | Exists(user.filter(tenant_id=OuterRef("tenant_id"),
                                 zoom_id=OuterRef("host_zoom_id"))))
    if group_id:
        members = ZoomGroupMembership.objects.filter(group_id=group_id)
        qs = qs.filter(
            Exists(ZoomParticipant.objects.filter(
                meeting=OuterRef("pk"), user_id__in=members.values("user_id")))
            | Exists(members.filter(user__tenant_id=OuterRef("tenant_id"),
                                    user__zoom_id=OuterRef("host_zoom_id"))))
    return qs


def meeting_quality_list(*, tenant: Tenant | None = None, **filters) -> QuerySet[ZoomMeeting]:
    """Recent meetings and webinars first, with quality annotations, filtered."""
    qs = meetings_with_quality()
    return meetings_filter(qs, tenant_id=tenant.pk if tenant else None, **filters)


def meeting_participants(*, meeting: ZoomMeeting) -> QuerySet[ZoomParticipant]:
    return (ZoomParticipant.objects.filter(meeting=meeting).select_related("user")
            .annotate(q_samples=_count_subquery(QosSample.objects.filter(
                participant=OuterRef("pk")))).order_by("position"))


def _number(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):  # tolerate a raw "41 ms" or "0.3%" left unparsed
        text = value.strip().split(" ")[0].rstrip("%")
        try:
            return float(text)
        except ValueError:
            return None
    return None


def _metric_value(block: dict, keys: tuple[str, ...]) -> float | None:
    for key in keys:
        if key in block:
            return _number(block[key])
    return None


# {metric: {stream: [(time, value or None), ...]}}, only streams with at least one number.
Series = dict[str, dict[str, list[tuple[dt.datetime, float | None]]]]


@dataclass
class ParticipantSeries:
    participant_id: int
    series: Series = field(default_factory=dict)
    samples: int = 0


def meeting_qos_series(*, meeting: ZoomMeeting,
                       participant_ids: list[int] | None = None) -> dict[int, ParticipantSeries]:
    """Per participant, latency/jitter/loss over time per stream, from QosSample.metrics.

    One query for the whole meeting. Streams without a single number are dropped, so charts
    show only what Zoom measured; a missing value inside a series stays None (a gap).
    """
    samples = QosSample.objects.filter(meeting=meeting).order_by("participant_id", "sampled_at")
    if participant_ids is not None:
        samples = samples.filter(participant_id__in=participant_ids)
    raw: dict[int, list[tuple[dt.datetime, dict]]] = defaultdict(list)
    for pid, sampled_at, metrics in samples.values_list("participant_id", "sampled_at",
                                                        "metrics"):
        raw[pid].append((sampled_at, metrics if isinstance(metrics, dict) else {}))
    result: dict[int, ParticipantSeries] = {}
    for pid, rows in raw.items():
        series: Series = {}
        for metric, (_label, _unit, keys) in CHART_METRICS.items():
            per_stream = {}
            for stream in STREAMS:
                points = [(t, _metric_value(m.get(stream) or {}, keys)
                           if isinstance(m.get(stream), dict) else None) for t, m in rows]
                if any(v is not None for _, v in points):
                    per_stream[stream] = points
            if per_stream:
                series[metric] = per_stream
        result[pid] = ParticipantSeries(participant_id=pid, series=series, samples=len(rows))
    return result


def meeting_worst_series(per_participant: dict[int, ParticipantSeries]) -> Series:
    """Meeting-level view: per minute and stream, the worst (highest) value of any participant."""
    buckets: dict[str, dict[str, dict[dt.datetime, float]]] = defaultdict(
        lambda: defaultdict(dict))
    for ps in per_participant.values():
        for metric, streams in ps.series.items():
            for stream, points in streams.items():
                for t, v in points:
                    if v is None:
                        continue
                    minute = t.replace(second=0, microsecond=0)
                    prev = buckets[metric][stream].get(minute)
                    buckets[metric][stream][minute] = v if prev is None else max(prev, v)
    return {metric: {stream: sorted(streams[stream].items()) for stream in STREAMS
                     if stream in streams}
            for metric, streams in buckets.items()}
