"""The setup checklist: the customer's steps in order, with this tenant's exact values, each
ticked off by evidence the portal holds (never by trust)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from tenants.models import Tenant
from tenants.selectors import credentials_of_row, tenant_zoom_urls

from .. import zoom
from ..models import ConnectionState, SyncRun, WebhookRejection, ZoomConnection, ZoomWebhookDelivery
from .health import RECENT_ERRORS_WINDOW, fmt_time, health_from_row, tenant_health_row

# The setup checklist shows (scope name, Zoom's description) pairs.
REQUIRED_SCOPES = tuple((scope.name, scope.description) for scope in zoom.REQUIRED_SCOPES)


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
    row = tenant_health_row(tenant=tenant)
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
        sub_detail = f"Zoom validated the URL at {fmt_time(validated_at)}."
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
        items=tuple(f"{label} ({event})" for label, event in zoom.SUBSCRIBED_EVENTS),
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
        auth_detail = (f"Authorized{by} at {fmt_time(conn.authorized_at)}; Zoom account "
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
        ev_detail = (f"Last event: {last_delivery.event} at {fmt_time(last_delivery.received_at)}"
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
        sync_detail = (f"Last synced at {fmt_time(last_good_sync.finished_at)}; "
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
