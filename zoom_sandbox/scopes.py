"""Which OAuth scopes each ``/v2`` route needs, in Zoom's two naming schemes.

Zoom apps created since about spring 2024 carry *granular* scopes only (one name per operation,
such as ``dashboard:read:list_meeting_participants_qos:admin``); older apps keep the *classic*
ones (one name per product area, such as ``dashboard_meetings:read:admin``). A call goes through
when the token holds any name that covers it, whichever scheme it comes from. When none is held,
Zoom answers HTTP 400, code 4711, "Invalid access token, does not contain scopes:[...]" naming
what to add. Public sources: developers.zoom.us/docs/integrations/oauth-scopes-granular/ (the
"Dashboards" section), developers.zoom.us/docs/integrations/migrate/, and the error as reported on
devforum.zoom.us (thread 108207, a 2024 app's token and answer).

The sandbox names the scopes of the app's own scheme in its 4711 answer, because that is what its
owner can find in Zoom's scope picker.
"""

from __future__ import annotations

GRANULAR, CLASSIC = "granular", "classic"
KINDS = (GRANULAR, CLASSIC)

# Classic names that cover every Dashboard call.
DASHBOARD_ANY = "dashboard:read:admin"

# route key -> (classic names, granular names). Route keys are built by ``route_key``.
REQUIRED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "users": (("user:read:admin",), ("user:read:list_users:admin",)),
    # GET /users/me and /users/{id}; the user-level granular name also lets /users/me through.
    "user": (("user:read:admin",), ("user:read:user:admin", "user:read:user")),
    "groups": (("group:read:admin",), ("group:read:list_groups:admin",)),
    "members": (("group:read:admin",), ("group:read:list_members:admin",)),
    "metrics_list:meetings": (("dashboard_meetings:read:admin", DASHBOARD_ANY),
                              ("dashboard:read:list_meetings:admin",)),
    "metrics_detail:meetings": (("dashboard_meetings:read:admin", DASHBOARD_ANY),
                                ("dashboard:read:meeting:admin",)),
    "metrics_participants:meetings": (("dashboard_meetings:read:admin", DASHBOARD_ANY),
                                      ("dashboard:read:list_meeting_participants:admin",)),
    "metrics_qos:meetings": (("dashboard_meetings:read:admin", DASHBOARD_ANY),
                             ("dashboard:read:list_meeting_participants_qos:admin",)),
    "metrics_list:webinars": (("dashboard_webinars:read:admin", DASHBOARD_ANY),
                              ("dashboard:read:list_webinars:admin",)),
    "metrics_detail:webinars": (("dashboard_webinars:read:admin", DASHBOARD_ANY),
                                ("dashboard:read:webinar:admin",)),
    "metrics_participants:webinars": (("dashboard_webinars:read:admin", DASHBOARD_ANY),
                                      ("dashboard:read:list_webinar_participants:admin",)),
    "metrics_qos:webinars": (("dashboard_webinars:read:admin", DASHBOARD_ANY),
                             ("dashboard:read:list_webinar_participants_qos:admin",)),
    "quality": (("dashboard_home:read:admin", DASHBOARD_ANY),
                ("dashboard:read:meeting_quality_score:admin",)),
    "client_versions": (("dashboard_home:read:admin", DASHBOARD_ANY),
                        ("dashboard:read:client_versions:admin",)),
    "zoomrooms": (("dashboard_home:read:admin", DASHBOARD_ANY),
                  ("dashboard:read:list_zoomrooms:admin",)),
    # The granular names of the two Zoom Rooms issue reports are not confirmed by a public
    # source we could read; these follow Zoom's naming pattern (resource, then operation).
    "zoomrooms_top_rooms": (("dashboard_home:read:admin", DASHBOARD_ANY),
                            ("dashboard:read:list_zoomrooms_with_issues:admin",)),
    "zoomrooms_top_issues": (("dashboard_home:read:admin", DASHBOARD_ANY),
                             ("dashboard:read:list_zoomrooms_issues:admin",)),
}

CLASSIC_ALL = (
    "meeting:read:admin", "webinar:read:admin", "user:read:admin", "group:read:admin",
    "dashboard_meetings:read:admin", "dashboard_webinars:read:admin", "dashboard_home:read:admin",
)
# Every granular name above, in table order (the user-level "user:read:user" left out: an
# account-level app asks for the admin name).
GRANULAR_ALL = tuple(dict.fromkeys(
    name for _classic, granular in REQUIRED.values() for name in granular
    if name != "user:read:user"))

DEFAULT_SCOPES = {CLASSIC: " ".join(CLASSIC_ALL), GRANULAR: " ".join(GRANULAR_ALL)}


def route_key(name: str, kind: str = "") -> str:
    """``metrics_qos`` + ``meetings`` -> ``metrics_qos:meetings``; others stay as named."""
    return f"{name}:{kind}" if name.startswith("metrics_") and kind else name


def parse(scope: str) -> set[str]:
    """The names in a space-separated ``scope`` string (Zoom's token field)."""
    return set(scope.split())


def missing(route: str, granted: set[str], scope_kind: str) -> list[str]:
    """[] when ``granted`` covers ``route``; otherwise the names to add, in the app's scheme."""
    classic, granular = REQUIRED.get(route, ((), ()))
    if not classic and not granular:
        return []
    if granted & set(classic) or granted & set(granular):
        return []
    return list(classic[:1] if scope_kind == CLASSIC else granular)


def missing_message(names: list[str]) -> str:
    return f"Invalid access token, does not contain scopes:[{', '.join(names)}]."
