"""Zoom's facts that the portal relies on, in one place: scopes and the capabilities they grant,
events, QoS streams, rate limits.

Nothing here touches the database or the network; every other module reads these names instead of
repeating them.
Sources: scopes https://developers.zoom.us/docs/integrations/oauth-scopes/, events
https://developers.zoom.us/docs/api/webhooks/, the Dashboard's QoS
https://developers.zoom.us/docs/api/rest/reference/zoom-api/methods/#tag/Dashboards and rate
limits https://developers.zoom.us/docs/api/rest/rate-limits/.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings

# --- Scopes and capabilities -------------------------------------------------------------------
#
# Apps created since about spring 2024 carry *granular* scopes only (one name per operation);
# older apps keep *classic* ones (one name per product area). The token's `scope` string uses the
# names of the app's kind. The portal therefore thinks in capabilities (the calls it makes): a
# capability is granted when the token holds ANY of its names, whichever kind. Granular names:
# https://developers.zoom.us/docs/integrations/oauth-scopes-granular/ ("Dashboards", "Users",
# "Groups"); classic names: https://developers.zoom.us/docs/integrations/oauth-scopes/.

GRANULAR, CLASSIC = "granular", "classic"
# The classic name that covers every Dashboard call.
DASHBOARD_ANY = "dashboard:read:admin"


@dataclass(frozen=True)
class Capability:
    """One call the portal makes, and the scope names that let it through.

    `classic[0]` and `granular[0]` are the names the checklist asks for; the others are also
    accepted. `optional` capabilities (the account overview) never make a tenant unhealthy.
    """

    key: str
    label: str
    classic: tuple[str, ...]
    granular: tuple[str, ...]
    classic_description: str = ""
    optional: bool = False

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.classic + self.granular)

    def name_in(self, kind: str) -> str:
        """The name an app of `kind` adds for this capability."""
        return self.classic[0] if kind == CLASSIC else self.granular[0]


_MEETINGS = ("dashboard_meetings:read:admin", DASHBOARD_ANY)
_WEBINARS = ("dashboard_webinars:read:admin", DASHBOARD_ANY)
_HOME = ("dashboard_home:read:admin", DASHBOARD_ANY)
_MEETINGS_TEXT = "View all users' meetings information on Dashboard"
_WEBINARS_TEXT = "View all users' webinar information on Dashboard"
_HOME_TEXT = "View overview of usage statistics for Meetings and Zoom Rooms"

CAPABILITIES: tuple[Capability, ...] = (
    Capability("users_me", "read the authorizing user (/users/me)", ("user:read:admin",),
               ("user:read:user:admin", "user:read:user"), "View all user information"),
    Capability("users_list", "list users", ("user:read:admin",),
               ("user:read:list_users:admin",), "View all user information"),
    Capability("user_get", "read a user", ("user:read:admin",), ("user:read:user:admin",),
               "View all user information"),
    Capability("groups_list", "list groups", ("group:read:admin",),
               ("group:read:list_groups:admin",), "View groups"),
    Capability("group_members", "list group members", ("group:read:admin",),
               ("group:read:list_members:admin",), "View groups"),
    Capability("meetings_list", "list past meetings (Dashboard)", _MEETINGS,
               ("dashboard:read:list_meetings:admin",), _MEETINGS_TEXT),
    Capability("meeting_detail", "meeting details (Dashboard)", _MEETINGS,
               ("dashboard:read:meeting:admin",), _MEETINGS_TEXT),
    Capability("meeting_participants", "meeting participants (Dashboard)", _MEETINGS,
               ("dashboard:read:list_meeting_participants:admin",), _MEETINGS_TEXT),
    Capability("meeting_qos", "meeting participants' QoS (Dashboard)", _MEETINGS,
               ("dashboard:read:list_meeting_participants_qos:admin",), _MEETINGS_TEXT),
    Capability("webinars_list", "list past webinars (Dashboard)", _WEBINARS,
               ("dashboard:read:list_webinars:admin",), _WEBINARS_TEXT),
    Capability("webinar_detail", "webinar details (Dashboard)", _WEBINARS,
               ("dashboard:read:webinar:admin",), _WEBINARS_TEXT),
    Capability("webinar_participants", "webinar participants (Dashboard)", _WEBINARS,
               ("dashboard:read:list_webinar_participants:admin",), _WEBINARS_TEXT),
    Capability("webinar_qos", "webinar participants' QoS (Dashboard)", _WEBINARS,
               ("dashboard:read:list_webinar_participants_qos:admin",), _WEBINARS_TEXT),
    Capability("overview_quality", "quality overview (optional)", _HOME,
               ("dashboard:read:meeting_quality_score:admin",), _HOME_TEXT, optional=True),
    Capability("overview_client_versions", "client versions (optional)", _HOME,
               ("dashboard:read:client_versions:admin",), _HOME_TEXT, optional=True),
    Capability("overview_zoomrooms", "Zoom Rooms (optional)", _HOME,
               ("dashboard:read:list_zoomrooms:admin",), _HOME_TEXT, optional=True),
)
CAPABILITY = {capability.key: capability for capability in CAPABILITIES}
# The Dashboard calls per meeting kind, in the order a fetch makes them.
DASHBOARD_CAPABILITIES = {
    "meeting": {"list": "meetings_list", "detail": "meeting_detail",
                "participants": "meeting_participants", "qos": "meeting_qos"},
    "webinar": {"list": "webinars_list", "detail": "webinar_detail",
                "participants": "webinar_participants", "qos": "webinar_qos"},
}
# Classic names that back no REST call the portal makes (the `.ended` events need only the event
# subscription): advisory at most, never a reason to block.
ADVISORY_CLASSIC = ("meeting:read:admin", "webinar:read:admin")

_CLASSIC_NAMES = frozenset(n for c in CAPABILITIES for n in c.classic) | set(ADVISORY_CLASSIC)
_GRANULAR_NAMES = frozenset(n for c in CAPABILITIES for n in c.granular)


def scope_names(scope: object) -> set[str]:
    """The names in Zoom's space-separated `scope` string; any other input gives none.

    Tolerates odd spacing (tabs, newlines, repeated spaces) and commas between names.
    """
    if not isinstance(scope, str):
        return set()
    return {name for name in scope.replace(",", " ").split() if name}


def _is_granular(name: str) -> bool:
    # Granular names have an operation segment: resource:action:operation[:admin].
    if name in _GRANULAR_NAMES:
        return True
    return name not in _CLASSIC_NAMES and name.count(":") >= 3


def scope_kind(granted: set[str]) -> str:
    """The app's kind from its token: granular as soon as one granular name is there, classic
    when only classic names are, granular when nothing tells (new apps are granular)."""
    if any(_is_granular(name) for name in granted):
        return GRANULAR
    if granted & _CLASSIC_NAMES:
        return CLASSIC
    return GRANULAR


def capabilities_missing(granted: set[str]) -> list[Capability]:
    """Every capability (required and optional) none of whose names is in `granted`."""
    return [c for c in CAPABILITIES if not (c.names & granted)]


def capabilities_for_scopes(names: list[str] | set[str]) -> list[Capability]:
    """The capabilities a list of scope names (e.g. from a 4711 answer) stands for."""
    wanted = set(names)
    return [c for c in CAPABILITIES if c.names & wanted]


def scope_names_for(capabilities, kind: str) -> list[str]:
    """The names an app of `kind` adds for `capabilities`, without repeats, in table order."""
    return list(dict.fromkeys(c.name_in(kind) for c in capabilities))


# Zoom's code for a call the token lacks a scope for (HTTP 400):
CODE_SCOPE_MISSING = 4711  # "Invalid access token, does not contain scopes:[a, b]."

# The bracketed list of a 4711 message (https://devforum.zoom.us/t/108207).
_SCOPE_LIST = re.compile(r"\[([^\[\]]*)\]")
# What a scope name may hold: a bounded list of Zoom's characters, nothing else is kept.
_SCOPE_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


def missing_scopes_parse(message: object) -> list[str]:
    """The scope names in a 4711 message's bracketed list, in order, without repeats; [] when
    there is no list (or nothing in it looks like a scope name)."""
    if not isinstance(message, str):
        return []
    match = _SCOPE_LIST.search(message)
    if not match:
        return []
    names = (part.strip().strip("'\"") for part in re.split(r"[,\s]+", match.group(1)))
    return list(dict.fromkeys(n for n in names if _SCOPE_NAME.match(n)))


# --- Events -------------------------------------------------------------------------------------

URL_VALIDATION = "endpoint.url_validation"  # Zoom's endpoint check (challenge and response)
MEETING_ENDED = "meeting.ended"
WEBINAR_ENDED = "webinar.ended"
USER_CREATED = "user.created"
USER_UPDATED = "user.updated"
USER_DELETED = "user.deleted"
USER_ACTIVATED = "user.activated"
USER_DEACTIVATED = "user.deactivated"
USER_DISASSOCIATED = "user.disassociated"  # the user left the account; no user.deleted follows
USER_EVENTS = (USER_CREATED, USER_UPDATED, USER_DELETED, USER_ACTIVATED, USER_DEACTIVATED,
               USER_DISASSOCIATED)
GROUP_CREATED = "group.created"
GROUP_UPDATED = "group.updated"
GROUP_DELETED = "group.deleted"
GROUP_MEMBER_ADDED = "group.member_added"
GROUP_MEMBER_DELETED = "group.member_deleted"
GROUP_EVENTS = (GROUP_CREATED, GROUP_UPDATED, GROUP_DELETED, GROUP_MEMBER_ADDED,
                GROUP_MEMBER_DELETED)
APP_DEAUTHORIZED = "app_deauthorized"
# An ended instance is identified by its `uuid`: a meeting started again is a new instance.
ENDED_EVENTS = (MEETING_ENDED, WEBINAR_ENDED)

# The events the customer subscribes the app to, as Zoom's UI names them, with the event type
# each one sends (user and group events: rivet's `users` module event types).
SUBSCRIBED_EVENTS = (
    ("End Meeting", MEETING_ENDED),
    ("End Webinar", WEBINAR_ENDED),
    ("User has been created", USER_CREATED),
    ("User has been deleted", USER_DELETED),
    ("User's profile info has been updated", USER_UPDATED),
    ("User has been activated", USER_ACTIVATED),
    ("User has been deactivated", USER_DEACTIVATED),
    ("User has been disassociated", USER_DISASSOCIATED),
    ("Group has been created", GROUP_CREATED),
    ("Group has been updated", GROUP_UPDATED),
    ("Group has been deleted", GROUP_DELETED),
    ("Group members have been added", GROUP_MEMBER_ADDED),
    ("Group members have been removed", GROUP_MEMBER_DELETED),
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
