"""The setup checklist: the customer's steps in order, with this tenant's exact values, each
ticked off by evidence the portal holds (never by trust)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils import timezone

from tenants.models import Tenant
from tenants.selectors import TenantCredentials, ZoomSetupUrls, credentials_of_row, tenant_zoom_urls

from .. import zoom
from ..capabilities import CapabilityState, connection_capability_state, scope_missing_message
from ..messages import staff_text
from ..models import ConnectionState, SyncRun, WebhookRejection, ZoomConnection, ZoomWebhookDelivery
from .health import (
    RECENT_ERRORS_WINDOW,
    HealthStatus,
    counted,
    fmt_time,
    health_from_row,
    revoked_by_staff,
    tenant_health_row,
)

# Zoom retired the legacy Verification Token in 2025; events are verified with the Secret Token.
LEGACY_TOKEN_NOTE = ("The Verification Token is retired by Zoom (2025): it is no substitute "  # noqa: S105
                     "for the Secret Token.")


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


# --- Evidence: what the portal knows about the tenant, read once --------------------------------


@dataclass(frozen=True)
class Evidence:
    row: Tenant  # a row of the health overview (its `h_` annotations)
    health: HealthStatus
    conn: ZoomConnection | None
    urls: ZoomSetupUrls
    credentials: TenantCredentials
    last_delivery: ZoomWebhookDelivery | None
    last_good_sync: SyncRun | None
    refused: list[tuple[str, int]]  # (reason, count) refused in the recent window
    capabilities: CapabilityState  # the app's kind and what it lacks

    @property
    def authorized(self) -> bool:
        return self.conn is not None and self.conn.state == ConnectionState.CONNECTED

    @property
    def ever_authorized(self) -> bool:
        return self.conn is not None and self.conn.authorized_at is not None


def _evidence(tenant: Tenant) -> Evidence:
    row = tenant_health_row(tenant=tenant)
    return Evidence(
        row=row, health=health_from_row(row), conn=getattr(row, "zoom_connection", None),
        urls=tenant_zoom_urls(tenant=row), credentials=credentials_of_row(row),
        last_delivery=(ZoomWebhookDelivery.objects.filter(tenant=row)
                       .only("event", "received_at", "status").order_by("-received_at").first()),
        last_good_sync=(SyncRun.objects.filter(tenant=row, status=SyncRun.Status.SUCCEEDED)
                        .only("finished_at", "users_seen").order_by("-started_at").first()),
        refused=list(WebhookRejection.objects.filter(
            tenant=row, last_at__gte=timezone.now() - RECENT_ERRORS_WINDOW)
            .values_list("reason", "count").order_by("-count")[:5]),
        capabilities=connection_capability_state(getattr(row, "zoom_connection", None)),
    )


# --- State functions: evidence → (state, detail) ---------------------------------------------

State = tuple[str, str]
NO_HOST = "Add a primary hostname to the tenant first."


def _missing_state(missing: list[str], done_detail: str, separator: str = ".") -> State:
    if not missing:
        return StepState.DONE, done_detail
    state = (StepState.PROBLEM if any("decrypted" in m for m in missing) else StepState.TODO)
    return state, "Missing: " + ", ".join(missing) + separator


def _app_state(ev: Evidence) -> State:
    if ev.row.client_id:
        return StepState.DONE, "We have the app's Client ID."
    return StepState.TODO, "No Client ID yet."


def _credentials_state(ev: Evidence) -> State:
    return _missing_state(ev.credentials.app_missing, "Client ID and Client Secret received.")


def _confirmed_by_authorization(done_detail: str) -> Callable[[Evidence], State]:
    def state(ev: Evidence) -> State:
        if ev.ever_authorized:
            return StepState.DONE, done_detail
        return StepState.TODO, "Confirmed when the customer authorizes."
    return state


def _manual_state(ev: Evidence) -> State:
    return StepState.MANUAL, "Zoom does not tell us about this step."


def _subscription_state(ev: Evidence) -> State:
    validated_at = ev.conn.endpoint_validated_at if ev.conn else None
    if validated_at:
        return StepState.DONE, f"Zoom validated the URL at {fmt_time(validated_at)}."
    if ev.last_delivery:
        return StepState.DONE, ("Events arrive, so Zoom accepted the URL (validation time not "
                                "recorded).")
    return StepState.TODO, "Zoom has not validated the URL yet."


def _secret_token_state(ev: Evidence) -> State:
    state, detail = _missing_state(ev.credentials.token_missing, "Received.", separator="")
    if ev.row.cred_raw_verification_token:
        detail += (" A Verification Token is stored too; it is retired by Zoom (2025) and no "
                   "longer enough.")
    return state, detail


def _scopes_state(ev: Evidence) -> State:
    conn, caps = ev.conn, ev.capabilities
    granted = sorted(conn.scopes.split()) if conn and conn.scopes else []
    optional = (f" Optional, not granted (account overview): {', '.join(caps.optional_names)}."
                if caps.optional_missing and granted else "")
    if ev.authorized and caps.missing:
        return StepState.PROBLEM, (scope_missing_message(caps.missing_names) + " Missing "
                                   "capabilities: " + ", ".join(c.label for c in caps.missing)
                                   + "." + optional)
    if ev.authorized or (conn and granted):
        return StepState.DONE, (f"Granted ({caps.kind} scopes): {' '.join(granted) or '—'}."
                                + optional)
    return StepState.TODO, "Checked when the customer authorizes."


def _scope_values(ev: Evidence) -> tuple[ChecklistValue, ...]:
    """The names to add, in the app's kind (granular until an authorization shows a classic
    app): one row per name, labelled with what it lets the portal do (classic names also with
    the description Zoom's scope picker shows)."""
    kind = ev.capabilities.kind
    rows: dict[str, list[zoom.Capability]] = {}
    for capability in zoom.CAPABILITIES:
        rows.setdefault(capability.name_in(kind), []).append(capability)
    values = []
    for name, capabilities in rows.items():
        label = "; ".join(c.label for c in capabilities)
        if kind == zoom.CLASSIC and capabilities[0].classic_description:
            label += f" (Zoom: \u201c{capabilities[0].classic_description}\u201d)"
        values.append(ChecklistValue(label[:1].upper() + label[1:], name))
    return tuple(values)


def _scope_items(ev: Evidence) -> tuple[str, ...]:
    if ev.capabilities.kind == zoom.CLASSIC:
        return ("This app uses classic scopes (created before 2024): add the classic names "
                "above. The optional ones only feed the account overview.",)
    classic = zoom.scope_names_for([c for c in zoom.CAPABILITIES if not c.optional],
                                   zoom.CLASSIC)
    return ("An app created since 2024 offers only these granular names; the optional ones "
            "only feed the account overview.",
            "An older app (classic scopes) adds instead: " + ", ".join(classic)
            + " (and dashboard_home:read:admin, optional).")


def _installation_state(ev: Evidence) -> State:
    if ev.row.installation_url:
        return StepState.DONE, "Received."
    return StepState.TODO, "Not received yet (optional: the link below installs the app too)."


def _authorize_state(ev: Evidence) -> State:
    conn = ev.conn
    if ev.authorized:
        by = f" by {conn.authorized_by_email}" if conn.authorized_by_email else ""
        return (StepState.DONE if not ev.capabilities.missing else StepState.PROBLEM,
                f"Authorized{by} at {fmt_time(conn.authorized_at)}; Zoom account "
                f"{ev.row.zoom_account_id or '(unknown)'}.")
    if conn and conn.state in (ConnectionState.NEEDS_REAUTH, ConnectionState.DEAUTHORIZED):
        return StepState.PROBLEM, ev.health.reason
    if revoked_by_staff(conn):
        when = f" on {fmt_time(conn.last_error_at)}" if conn.last_error_at else ""
        return StepState.PROBLEM, (f"Revoked by staff{when}: send the customer the link below "
                                   "to authorize again.")
    return StepState.TODO, "Not authorized yet."


def _events_state(ev: Evidence) -> State:
    delivery, row = ev.last_delivery, ev.row
    if delivery:
        state = StepState.DONE
        detail = (f"Last event: {delivery.event} at {fmt_time(delivery.received_at)}"
                  f" ({delivery.get_status_display().lower()}).")
        if row.h_recent_failed_deliveries:
            state = StepState.PROBLEM
            detail += f" {row.h_recent_failed_deliveries} failed in the last 24 hours."
    else:
        state, detail = StepState.TODO, "No event has arrived yet."
    if ev.refused:
        state = StepState.PROBLEM
        detail += (" Refused in the last 24 hours: "
                   + ", ".join(f"{count} × {reason}" for reason, count in ev.refused)
                   + " (a wrong Secret Token shows up as bad signatures).")
    return state, detail


def _sync_state(ev: Evidence) -> State:
    row = ev.row
    if row.h_last_sync_status == SyncRun.Status.FAILED:
        error = staff_text(row.h_last_sync_error).rstrip(".") or "no detail"
        return StepState.PROBLEM, f"The last sync failed: {error}."
    if ev.last_good_sync:
        return StepState.DONE, (f"Last synced at {fmt_time(ev.last_good_sync.finished_at)}; "
                                f"{counted(row.h_users, 'user', 'users')}.")
    if row.h_last_sync_status == SyncRun.Status.RUNNING:
        return StepState.TODO, "The first sync is running."
    return StepState.TODO, "No sync yet."


def _dashboard_state(ev: Evidence) -> State:
    dashboard = ev.conn.dashboard_available if ev.conn else None
    if dashboard is False:
        return StepState.PROBLEM, ("Zoom says the account has no Dashboard: a Business plan or "
                                   "higher with the Dashboard enabled is needed.")
    if ev.row.h_fetched_meetings:
        return StepState.DONE, (f"Quality data fetched for {ev.row.h_fetched_meetings} meetings "
                                "or webinars.")
    if dashboard:
        return StepState.DONE, ("The Dashboard answers; quality data appears after the next "
                                "meeting ends.")
    return StepState.TODO, "No meeting quality data yet."


# --- The steps, in the order the customer meets them in Zoom ---------------------------------


def _no_values(ev: Evidence) -> tuple[ChecklistValue, ...]:
    return ()


@dataclass(frozen=True)
class StepSpec:
    key: str
    title: str
    instructions: str
    state: Callable[[Evidence], State]
    values: Callable[[Evidence], tuple[ChecklistValue, ...]] = _no_values
    items: tuple[str, ...] = ()
    who: str = "customer"
    items_of: Callable[[Evidence], tuple[str, ...]] | None = None  # items that need evidence


STEPS: tuple[StepSpec, ...] = (
    StepSpec(
        "create_app", "Create an account-level OAuth app (do not publish it)",
        "In the Zoom App Marketplace, choose Develop > Build App > General App. Choose "
        "\"Admin-managed\" (account-level) and keep it unpublished: a private app stays "
        "inside your Zoom account. Name it, for example, \"Nectar call quality\".",
        _app_state),
    StepSpec(
        "credentials", "Send us the Client ID and Client Secret",
        "On the app's Basic Information (App Credentials) page, copy the Client "
        "ID and the Client Secret and send them to us through a secure channel.",
        _credentials_state),
    StepSpec(
        "redirect_url", "Enter the Redirect URL for OAuth",
        "On the same page, under OAuth Information, paste this exact value as "
        "the \"OAuth Redirect URL\" (no trailing slash, no query).",
        _confirmed_by_authorization("Confirmed: Zoom sent the customer back to it."),
        values=lambda ev: (ChecklistValue("Redirect URL for OAuth", ev.urls.redirect_url,
                                          NO_HOST),)),
    StepSpec(
        "allow_list", "Add the OAuth allow list entry",
        "Under \"OAuth allow list\", add this value.",
        _confirmed_by_authorization("Confirmed: Zoom accepted the redirect."),
        values=lambda ev: (ChecklistValue("OAuth allow list", ev.urls.allow_list_url,
                                          NO_HOST),)),
    StepSpec(
        "descriptions", "Fill in the app's information",
        "Zoom requires a short description, a long description and developer "
        "contact details even for a private app. Any accurate text works, "
        "for example the values below.",
        _manual_state,
        values=lambda ev: (
            ChecklistValue("Short description", "Call-quality analytics for our Zoom meetings."),
            ChecklistValue("Long description",
                           "Reads meeting and webinar quality data (Dashboard) and the user "
                           "directory so our analytics vendor can report call quality."))),
    StepSpec(
        "event_subscription", "Add an event subscription",
        "Under Features > Access, turn on Event Subscription, add a subscription "
        "with method \"Webhook\", paste the endpoint URL, press \"Validate\" "
        "(it must turn green) and add these events:",
        _subscription_state,
        values=lambda ev: (ChecklistValue("Event notification endpoint URL", ev.urls.event_url,
                                          NO_HOST),),
        items=tuple(f"{label} ({event})" for label, event in zoom.SUBSCRIBED_EVENTS)),
    StepSpec(
        "secret_token", "Send us the Secret Token",
        "On the same Access page, copy the Secret Token and send it to us securely. Zoom "
        "signs every event with it. " + LEGACY_TOKEN_NOTE,
        _secret_token_state),
    StepSpec(
        "scopes", "Add the scopes",
        "Under Scopes, add each of these scopes (search by name). Each lets the portal "
        "make one kind of call; without it that call is refused.",
        _scopes_state, values=_scope_values, items_of=_scope_items),
    StepSpec(
        "installation_url", "Send us the Installation URL",
        "Under Local Test (or Activation), copy the Installation URL (Zoom's "
        "authorization URL for this app) and send it to us.",
        _installation_state),
    StepSpec(
        "authorize", "Authorize the app",
        "A Zoom admin of your account opens this link, signs in to Zoom if asked, "
        "and presses \"Allow\". They land on a page saying the connection "
        "succeeded.",
        _authorize_state,
        values=lambda ev: (ChecklistValue("Authorization link", ev.urls.oauth_start_url,
                                          NO_HOST),)),
    StepSpec(
        "events", "Events arrive",
        "The portal receives Zoom's events after a meeting ends or a user changes.",
        _events_state, who="portal"),
    StepSpec(
        "users_synced", "Users synced",
        "The portal copies the account's users and groups after authorization.",
        _sync_state, who="portal"),
    StepSpec(
        "dashboard", "Dashboard data available",
        "After a meeting or webinar ends, the portal fetches its quality data.",
        _dashboard_state, who="portal"),
)


def setup_checklist(*, tenant: Tenant) -> list[ChecklistStep]:
    """The customer's steps in order, each with this tenant's exact values and detected state."""
    ev = _evidence(tenant)
    steps = []
    for number, spec in enumerate(STEPS, start=1):
        state, detail = spec.state(ev)
        steps.append(ChecklistStep(
            number=number, key=spec.key, title=spec.title, instructions=spec.instructions,
            state=state, detail=detail, values=spec.values(ev),
            items=spec.items_of(ev) if spec.items_of else spec.items, who=spec.who))
    return steps
