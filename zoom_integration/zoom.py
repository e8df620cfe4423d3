"""Zoom's facts that the portal relies on, in one place: scopes, events, QoS streams, rate limits.

Nothing here does anything; every other module reads these names instead of repeating them.
Sources: scopes https://developers.zoom.us/docs/integrations/oauth-scopes/, events
https://developers.zoom.us/docs/api/webhooks/, the Dashboard's QoS
https://developers.zoom.us/docs/api/rest/reference/zoom-api/methods/#tag/Dashboards and rate
limits https://developers.zoom.us/docs/api/rest/rate-limits/.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

# --- Scopes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """A classic admin scope: its name, the description Zoom's app settings show beside it (the
    setup checklist repeats it so the customer finds it), and what the portal uses it for."""

    name: str
    description: str
    used_for: str


# What the customer adds to their app. A missing scope does not block the connection: the
# success page and the admin list it, and the calls that need it fail with Zoom's own error
# until the customer adds it and authorizes again.
REQUIRED_SCOPES: tuple[Scope, ...] = (
    Scope("meeting:read:admin", "View all user meetings", "meeting.ended; meeting details"),
    Scope("webinar:read:admin", "View all user webinars", "webinar.ended; practice sessions"),
    Scope("user:read:admin", "View all user information", "List users, Get a user, /users/me"),
    Scope("dashboard_meetings:read:admin", "View all users' meetings information on Dashboard",
          "/metrics/meetings/..."),
    Scope("dashboard_webinars:read:admin", "View all users' webinar information on Dashboard",
          "/metrics/webinars/..."),
    Scope("dashboard_home:read:admin",
          "View overview of usage statistics for Meetings and Zoom Rooms",
          "usage overview, /metrics/quality"),
    Scope("group:read:admin", "View groups", "List groups, List group members"),
)
REQUIRED_SCOPE_NAMES: tuple[str, ...] = tuple(scope.name for scope in REQUIRED_SCOPES)

# --- Events -------------------------------------------------------------------------------------

URL_VALIDATION = "endpoint.url_validation"  # Zoom's endpoint check (challenge and response)
MEETING_ENDED = "meeting.ended"
WEBINAR_ENDED = "webinar.ended"
USER_CREATED = "user.created"
USER_UPDATED = "user.updated"
USER_DELETED = "user.deleted"
APP_DEAUTHORIZED = "app_deauthorized"
# An ended instance is identified by its `uuid`: a meeting started again is a new instance.
ENDED_EVENTS = (MEETING_ENDED, WEBINAR_ENDED)

# The events the customer subscribes the app to, as Zoom's UI names them, with the event type
# each one sends.
SUBSCRIBED_EVENTS = (
    ("End Meeting", MEETING_ENDED),
    ("End Webinar", WEBINAR_ENDED),
    ("User has been created", USER_CREATED),
    ("User has been deleted", USER_DELETED),
    ("User's profile info has been updated", USER_UPDATED),
)

# --- QoS streams --------------------------------------------------------------------------------

# The blocks of each `user_qos` sample of the Dashboard's participant QoS.
STREAMS = ("audio_input", "audio_output", "video_input", "video_output", "as_input", "as_output")
# Short labels (chart legends) and the names used in sentences (quality reasons).
STREAM_LABELS = {
    "audio_input": "Audio in", "audio_output": "Audio out", "video_input": "Video in",
    "video_output": "Video out", "as_input": "Screen share in", "as_output": "Screen share out",
}
STREAM_NAMES = {
    "audio_input": "audio input", "audio_output": "audio output",
    "video_input": "video input", "video_output": "video output",
    "as_input": "screen share input", "as_output": "screen share output",
}

# --- Rate limits --------------------------------------------------------------------------------

LIGHT, MEDIUM, HEAVY, INTENSIVE = "Light", "Medium", "Heavy", "Resource-intensive"
CATEGORIES = (LIGHT, MEDIUM, HEAVY, INTENSIVE)
# Heavy and Resource-intensive calls share one daily cap per account.
COMBINED_DAILY = (HEAVY, INTENSIVE)


@dataclass(frozen=True)
class Limit:
    """`calls` per `period` seconds, and a daily cap (None: no documented cap)."""

    calls: int
    period: float = 1.0
    per_day: int | None = None


# Zoom's published limits per plan ("free" only for tests against the sandbox).
PLAN_LIMITS: dict[str, dict[str, Limit]] = {
    "free": {LIGHT: Limit(4, 1, 6000), MEDIUM: Limit(2, 1, 2000), HEAVY: Limit(1, 1, 1000),
             INTENSIVE: Limit(10, 60, 30000)},
    "pro": {LIGHT: Limit(30), MEDIUM: Limit(20), HEAVY: Limit(10), INTENSIVE: Limit(10, 60)},
    "business": {LIGHT: Limit(80), MEDIUM: Limit(60), HEAVY: Limit(40),
                 INTENSIVE: Limit(20, 60)},
}
# The Heavy + Resource-intensive daily cap per plan.
COMBINED_CAP = {"free": None, "pro": 30000, "business": 60000}


def plan_limits(plan: str) -> tuple[dict[str, Limit], int | None]:
    """The plan preset, with `settings.ZOOM_RATE_LIMIT_OVERRIDES` applied.

    Overrides look like {"Heavy": {"per_second": 2, "per_day": 10}, "combined_per_day": 50};
    they exist for accounts whose limits Zoom raised, and for tests against the sandbox.
    """
    plan = plan if plan in PLAN_LIMITS else "business"
    limits = dict(PLAN_LIMITS[plan])
    combined = COMBINED_CAP[plan]
    overrides = getattr(settings, "ZOOM_RATE_LIMIT_OVERRIDES", None) or {}
    for category, values in overrides.items():
        if category == "combined_per_day":
            combined = values
            continue
        if category not in limits or not isinstance(values, dict):
            continue
        current = limits[category]
        calls, period, per_day = current.calls, current.period, current.per_day
        if "per_second" in values:
            calls, period = int(values["per_second"]), 1.0
        if "per_minute" in values:
            calls, period = int(values["per_minute"]), 60.0
        if "per_day" in values:
            per_day = values["per_day"]
        limits[category] = Limit(calls, period, per_day)
    return limits, combined


def combined_daily_cap(plan: str) -> int | None:
    """The account's Heavy + Resource-intensive daily cap (None: none documented)."""
    return plan_limits(plan)[1]
