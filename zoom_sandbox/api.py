"""The REST API under ``/v2``: users, groups, Dashboard metrics and the account overview.

Owns routing of ``/v2`` paths to rate-limit categories and scopes, Bearer authentication, the
order in which Zoom's checks apply (token, then scopes, then limits, then plan), paging with
expiring ``next_page_token``s, the ``type`` default, the double-encoding rule, the data delay
after a meeting ends and the per-endpoint call counts.

Public sources: Zoom's API reference for Users, Groups and Dashboards
(developers.zoom.us/docs/api/), its rate-limit page (developers.zoom.us/docs/api/rest/rate-limits/)
and the response types of Zoom's own SDK, github.com/zoom/rivet-javascript (accounts, users).
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import json
import math
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

from . import scopes
from .protocol import Request, Response, zoom_error
from .ratelimit import HEAVY, INTENSIVE, LIGHT, MEDIUM, limits_for
from .scopes import route_key
from .world import Account, Meeting

if TYPE_CHECKING:
    from .control import Sandbox

# List users: 300 in Zoom's 2018 OpenAPI file (2000 in some newer summaries); 300 is safe.
USERS_PAGE_MAX = 300
PAGE_DEFAULT, PAGE_MAX = 30, 300  # group members, Dashboard lists and participants
QOS_PAGE_DEFAULT, QOS_PAGE_MAX = 1, 10  # the QoS list is "default 1, max 10"
NOT_FOUND_MEETING = "Meeting does not exist: {}."
NOT_ENDED = "Meeting ID is invalid or not end."  # before the data delay has passed
NO_DASHBOARD = "Only available for paid account and enabled Dashboard feature."


class BadRequest(Exception):
    def __init__(self, message: str, code: int = 300):
        super().__init__(message)
        self.code = code


class PageTokens:
    """Stateless ``next_page_token``s that expire after 15 minutes."""

    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox
        self.key = secrets.token_bytes(16)

    def make(self, scope: str, position: int) -> str:
        expires = self.sandbox.clock.now() + self.sandbox.config.page_token_ttl
        raw = json.dumps([scope, position, expires]).encode()
        mac = hmac.new(self.key, raw, hashlib.sha256).digest()[:12]
        return base64.urlsafe_b64encode(mac + raw).decode().rstrip("=")

    def read(self, scope: str, token: str) -> int:
        try:
            blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            mac, raw = blob[:12], blob[12:]
            ok = hmac.compare_digest(mac, hmac.new(self.key, raw, hashlib.sha256).digest()[:12])
            token_scope, position, expires = json.loads(raw) if ok else ("", 0, 0)
        except ValueError:
            token_scope, position, expires = "", 0, 0
        if token_scope != scope or self.sandbox.clock.now() > expires:
            # Zoom's code 300 "The next page token is invalid or expired".
            raise BadRequest("The next page token is invalid or expired.")
        return int(position)


def page_size(req: Request, default: int, maximum: int) -> int:
    value = req.query.get("page_size", "")
    if not value:
        return default
    try:
        size = int(value)
    except ValueError:
        raise BadRequest("Invalid field: page_size.") from None
    if size < 1:
        raise BadRequest("Invalid field: page_size.")
    # The reference gives the cap, not what Zoom does above it. We clamp and echo the size used,
    # so a client must follow next_page_token instead of trusting the size it asked for.
    return min(size, maximum)


def meeting_ident(segment: str) -> str | None:
    """The meeting id/UUID in a path segment, as Zoom reads it (its "double encode" rule).

    The path is decoded once. A UUID that starts with "/" or contains "//" survives that only
    if the client encoded it twice; encoded once it is not found (404, 3001).
    """
    once = unquote(segment)
    if "%" in once:
        return unquote(once)  # double-encoded: works for every UUID
    if once.startswith("/") or "//" in once:
        return None
    return once


@dataclass(frozen=True)
class Route:
    name: str  # handler method
    category: str  # rate-limit label
    args: list[str]
    endpoint: str  # "GET /metrics/meetings/{meetingId}" for the per-endpoint call counts
    scope: str  # key into scopes.REQUIRED


def route(segments: list[str]) -> Route | None:
    """The handler, rate-limit label, arguments and scope of a /v2 path.

    Labels follow Zoom's rate-limit pages: List users and groups are Medium, Get a user Light,
    Dashboard lists (meetings, webinars, Zoom Rooms) Resource-intensive, the rest of the
    Dashboard Heavy. The labels of the quality and client-version overviews are not published;
    the sandbox counts them as Heavy.
    """
    match segments:
        case ["users"]:
            return Route("users", MEDIUM, [], "GET /users", "users")
        case ["users", user_id]:
            return Route("user", LIGHT, [unquote(user_id)], "GET /users/{userId}", "user")
        case ["groups"]:
            return Route("groups", MEDIUM, [], "GET /groups", "groups")
        case ["groups", group_id, "members"]:
            return Route("members", MEDIUM, [unquote(group_id)], "GET /groups/{groupId}/members",
                         "members")
        case ["metrics", "quality"]:
            return Route("quality", HEAVY, [], "GET /metrics/quality", "quality")
        case ["metrics", "client_versions"]:
            return Route("client_versions", HEAVY, [], "GET /metrics/client_versions",
                         "client_versions")
        case ["metrics", "zoomrooms"]:
            return Route("zoomrooms", INTENSIVE, [], "GET /metrics/zoomrooms", "zoomrooms")
        case ["metrics", "zoomrooms", "issues"]:
            return Route("zoomrooms_top_issues", HEAVY, [], "GET /metrics/zoomrooms/issues",
                         "zoomrooms_top_issues")
        case ["metrics", "issues", "zoomrooms"]:
            return Route("zoomrooms_top_rooms", HEAVY, [], "GET /metrics/issues/zoomrooms",
                         "zoomrooms_top_rooms")
        case ["metrics", ("meetings" | "webinars") as kind]:
            return Route("metrics_list", INTENSIVE, [kind], f"GET /metrics/{kind}",
                         route_key("metrics_list", kind))
        case ["metrics", ("meetings" | "webinars") as kind, ident]:
            return Route("metrics_detail", HEAVY, [kind, ident], f"GET /metrics/{kind}/{{id}}",
                         route_key("metrics_detail", kind))
        case ["metrics", ("meetings" | "webinars") as kind, ident, "participants"]:
            return Route("metrics_participants", HEAVY, [kind, ident],
                         f"GET /metrics/{kind}/{{id}}/participants",
                         route_key("metrics_participants", kind))
        case ["metrics", ("meetings" | "webinars") as kind, ident, "participants", "qos"]:
            return Route("metrics_qos", HEAVY, [kind, ident],
                         f"GET /metrics/{kind}/{{id}}/participants/qos",
                         route_key("metrics_qos", kind))
        case ["metrics", ("meetings" | "webinars") as kind, *_]:
            # An unencoded "/" inside a UUID splits the path: Zoom answers 3001.
            return Route("metrics_broken", HEAVY, [kind], f"GET /metrics/{kind}/(split path)",
                         route_key("metrics_detail", kind))
    return None


class RestApi:
    def __init__(self, sandbox: Sandbox):
        self.sb = sandbox
        self.pages = PageTokens(sandbox)
        self.lock = threading.Lock()
        # Calls per endpoint, per rate-limit category and per meeting UUID (benchmarks check
        # calls per meeting); every routed request counts, answered or refused.
        self.endpoint_calls: Counter = Counter()
        self.category_calls: Counter = Counter()
        self.meeting_calls: Counter = Counter()

    def counts(self) -> dict:
        with self.lock:
            return {"endpoints": dict(self.endpoint_calls),
                    "categories": dict(self.category_calls),
                    "meetings": dict(self.meeting_calls)}

    def reset_counts(self) -> None:
        with self.lock:
            self.endpoint_calls.clear()
            self.category_calls.clear()
            self.meeting_calls.clear()

    def _count(self, found: Route) -> None:
        with self.lock:
            self.endpoint_calls[found.endpoint] += 1
            self.category_calls[found.category] += 1
            if found.name != "metrics_list" and len(found.args) == 2:
                ident = meeting_ident(found.args[1])
                self.meeting_calls[ident if ident is not None else found.args[1]] += 1

    def handle(self, req: Request) -> Response:
        segments = req.raw_path.split("?")[0].split("/")[2:]  # drop "" and "v2"
        found = route(segments)
        if found is None or req.method != "GET":
            return zoom_error(404, 404, "Not Found")
        self._count(found)
        token, problem = self.sb.oauth.bearer(req)  # Bearer header only, else 124
        if problem:
            return problem
        # The scope check comes before the rate limiter: a call refused for a missing scope
        # does not spend the account's quota (the sandbox's choice; Zoom does not say).
        lacking = scopes.missing(found.scope, scopes.parse(token.scopes), token.scope_kind)
        if lacking:
            return zoom_error(400, 4711, scopes.missing_message(lacking))
        account = self.sb.world.account(token.account_id)
        limiter = self.sb.limiter
        limiter.observe(account.id, found.category)
        delay, injected = self.sb.faults.apply(req.raw_path, found.category)
        if delay:
            time.sleep(delay)
        if injected:
            return injected
        limits = limits_for(account.plan, self.sb.config.rate_limits)
        refused, rate_headers = limiter.admit(account.id, found.category, limits)
        if refused:
            return refused
        try:
            answer = getattr(self, found.name)(req, account, token.user_index, *found.args)
        except BadRequest as exc:
            answer = zoom_error(400, exc.code, str(exc))
        answer.headers.update(rate_headers)
        return answer

    # -- users and groups ----------------------------------------------------------------------

    def users(self, req: Request, account: Account, _me: int) -> Response:
        status = req.query.get("status", "active")
        if status not in ("active", "inactive", "pending"):
            raise BadRequest("Invalid field: status.")
        size = page_size(req, PAGE_DEFAULT, USERS_PAGE_MAX)
        scope = f"users:{account.id}:{status}"
        start = self.pages.read(scope, req.query["next_page_token"]) if req.query.get(
            "next_page_token") else 0
        found, next_index = self.sb.world.scan_users(account, status, start, size)
        hidden = ("account_id", "role_name", "language")
        total = self.sb.world.count_users(account, status)
        return Response.json({
            "page_count": math.ceil(total / size), "page_number": 1, "page_size": size,
            "total_records": total,
            "next_page_token": self.pages.make(scope, next_index) if next_index else "",
            "users": [{k: v for k, v in u.items() if k not in hidden} for u in found],
        })

    def user(self, req: Request, account: Account, me: int, ident: str) -> Response:
        if ident == "me":
            user = self.sb.world.user(account, me)
        else:
            found = self.sb.world.find_user(ident, account)
            user = found[1] if found else None
        if user is None:
            return zoom_error(404, 1001, f"User does not exist: {ident}.")
        return Response.json(user)

    def groups(self, req: Request, account: Account, _me: int) -> Response:
        groups = self.sb.world.groups(account)  # no pagination fields in Zoom's answer
        return Response.json({"total_records": len(groups), "groups": groups})

    def members(self, req: Request, account: Account, _me: int, ident: str) -> Response:
        group = self.sb.world.find_group(account, ident)
        if group is None:
            return zoom_error(404, 4130, f"Group does not exist: {ident}.")
        size = page_size(req, PAGE_DEFAULT, PAGE_MAX)
        scope = f"members:{account.id}:{group}"
        start = self.pages.read(scope, req.query["next_page_token"]) if req.query.get(
            "next_page_token") else self.sb.world.members_start(account, group)
        found, next_index = self.sb.world.scan_members(account, group, start, size)
        total = self.sb.world.group_member_total(account, group)
        return Response.json({
            "members": found, "page_count": math.ceil(total / size), "page_number": 1,
            "page_size": size, "total_records": total,
            "next_page_token": self.pages.make(scope, next_index) if next_index else "",
        })

    # -- dashboard -------------------------------------------------------------------------------

    def _dashboard_gate(self, account: Account) -> Response | None:
        # Business+ with the Dashboard enabled, else Zoom's error code 200 (HTTP 400).
        if not account.dashboard or account.plan not in ("business",):
            return zoom_error(400, 200, NO_DASHBOARD)
        return None

    @staticmethod
    def _type(req: Request, allowed: tuple[str, ...] = ("past", "pastOne", "live")) -> str:
        value = req.query.get("type", "live")  # Zoom: type defaults to live
        if value not in allowed:
            raise BadRequest("Invalid field: type.")
        return value

    def _available(self, meeting: Meeting) -> bool:
        # Dashboard data appears "a minute or two" after the meeting ends (Zoom staff, devforum).
        return self.sb.clock.now() >= meeting.ended_at + self.sb.config.data_delay

    def _meeting(self, req: Request, account: Account, kind: str, segment: str
                 ) -> tuple[Meeting | None, str, Response | None]:
        """(meeting, type, error answer)."""
        gate = self._dashboard_gate(account)
        if gate:
            return None, "", gate
        kind_name = kind[:-1]
        ident = meeting_ident(segment)
        qos = req.raw_path.split("?")[0].endswith("/qos")
        mtype = self._type(req, ("past", "live") if qos else ("past", "pastOne", "live"))
        meeting = self.sb.world.find_meeting(account, kind_name, ident) if ident else None
        if meeting is None:
            shown = ident if ident is not None else unquote(segment)
            return None, mtype, zoom_error(404, 3001, NOT_FOUND_MEETING.format(shown))
        if not self._available(meeting):
            return None, mtype, zoom_error(404, 3001, NOT_ENDED)
        return meeting, mtype, None

    def metrics_broken(self, req: Request, account: Account, _me: int, kind: str) -> Response:
        return self._dashboard_gate(account) or zoom_error(404, 3001,
                                                           NOT_FOUND_MEETING.format(""))

    def metrics_detail(self, req: Request, account: Account, _me: int, kind: str,
                       segment: str) -> Response:
        meeting, mtype, problem = self._meeting(req, account, kind, segment)
        if problem:
            return problem
        if mtype == "live":
            # An ended meeting is not found as a live one.
            return zoom_error(404, 3001, NOT_FOUND_MEETING.format(meeting.uuid))
        return Response.json(self.sb.world.meeting_detail(account, meeting))

    def _participants(self, req: Request, account: Account, kind: str, segment: str,
                      qos: bool) -> Response:
        meeting, mtype, problem = self._meeting(req, account, kind, segment)
        if problem:
            return problem
        size = page_size(req, QOS_PAGE_DEFAULT if qos else PAGE_DEFAULT,
                         QOS_PAGE_MAX if qos else PAGE_MAX)
        scope = f"{'qos' if qos else 'participants'}:{account.id}:{meeting.uuid}:{mtype}"
        start = self.pages.read(scope, req.query["next_page_token"]) if req.query.get(
            "next_page_token") else 0
        # Without type=past an ended meeting's lists come back empty.
        total = 0 if mtype == "live" else meeting.participants
        stop = min(total, start + size)
        make = self.sb.world.qos_participant if qos else self.sb.world.participant
        rows = [make(account, meeting, p) for p in range(start, stop)]
        # registrant_id comes back only when asked for with include_fields=registrant_id.
        if not qos and "registrant_id" not in req.query.get("include_fields", "").split(","):
            for row in rows:
                row.pop("registrant_id", None)
        return Response.json({
            "page_count": math.ceil(total / size), "page_size": size, "total_records": total,
            "next_page_token": self.pages.make(scope, stop) if stop < total else "",
            "participants": rows,
        })

    def metrics_participants(self, req: Request, account: Account, _me: int, kind: str,
                             segment: str) -> Response:
        return self._participants(req, account, kind, segment, qos=False)

    def metrics_qos(self, req: Request, account: Account, _me: int, kind: str,
                    segment: str) -> Response:
        return self._participants(req, account, kind, segment, qos=True)

    def metrics_list(self, req: Request, account: Account, _me: int, kind: str) -> Response:
        """List meetings / webinars: ``type``, ``from``/``to`` (one month at most), paged at up
        to 300; instances are picked by start time, or end time with query_date_type=end_time."""
        gate = self._dashboard_gate(account)
        if gate:
            return gate
        mtype = self._type(req)
        start_day, end_day = _date_range(req, self.sb.clock.now())
        by = req.query.get("query_date_type", "start_time")
        if by not in ("start_time", "end_time"):
            raise BadRequest("Invalid field: query_date_type.")
        size = page_size(req, PAGE_DEFAULT, PAGE_MAX)

        def when(m: Meeting) -> float:
            return m.end if by == "end_time" else m.start

        found = sorted(
            (m for m in list(account.meetings.values())
             if m.kind == kind[:-1] and mtype != "live" and self._available(m)
             and start_day <= when(m) < end_day + 86400
             and (mtype != "pastOne" or m.participants == 1)),
            key=lambda m: (-m.start, m.uuid),
        )
        scope = f"list:{account.id}:{kind}:{mtype}:{by}:{start_day}:{end_day}"
        start = self.pages.read(scope, req.query["next_page_token"]) if req.query.get(
            "next_page_token") else 0
        stop = min(len(found), start + size)
        return Response.json({
            "from": req.query["from"], "to": req.query["to"],
            "page_count": math.ceil(len(found) / size), "page_size": size,
            "total_records": len(found),
            "next_page_token": self.pages.make(scope, stop) if stop < len(found) else "",
            kind: [self.sb.world.meeting_list_entry(account, m) for m in found[start:stop]],
        })

    # -- the account overview ("View overview of usage statistics for Meetings and Zoom Rooms") --

    def quality(self, req: Request, account: Account, _me: int) -> Response:
        """Meeting quality scores: counts of good/fair/poor/bad for audio, video and screen
        sharing, over the meetings (``type=meeting``, the default) or their participants
        (``type=participants``) that started in the window. The sandbox derives them from its
        meetings' own labels, so the overview agrees with the meeting list."""
        gate = self._dashboard_gate(account)
        if gate:
            return gate
        start_day, end_day = _date_range(req, self.sb.clock.now())
        kind = req.query.get("type", "meeting")
        if kind not in ("meeting", "participants"):
            raise BadRequest("Invalid field: type.")
        counts = {m: dict.fromkeys(("good", "fair", "poor", "bad"), 0)
                  for m in ("audio", "video", "screen_share")}
        world = self.sb.world
        for meeting in list(account.meetings.values()):
            if meeting.kind != "meeting" or not self._available(meeting) or not (
                    start_day <= meeting.start < end_day + 86400):
                continue
            if kind == "meeting":
                labelled = [world.meeting_labels(meeting)]
            else:
                labelled = [world.participant(account, meeting, p)
                            for p in range(min(meeting.participants, 1000))]
            for row in labelled:
                for medium in counts:
                    label = row.get(f"{medium}_quality")
                    if label in counts[medium]:
                        counts[medium][label] += 1
        return Response.json({"from": req.query["from"], "to": req.query["to"],
                              "quality": counts})

    def client_versions(self, req: Request, account: Account, _me: int) -> Response:
        gate = self._dashboard_gate(account)
        if gate:
            return gate
        return Response.json({"client_versions": self.sb.world.client_versions(account)})

    def zoomrooms(self, req: Request, account: Account, _me: int) -> Response:
        """Zoom Rooms with status, health and issues, paged at up to 300."""
        gate = self._dashboard_gate(account)
        if gate:
            return gate
        size = page_size(req, PAGE_DEFAULT, PAGE_MAX)
        rooms = self.sb.world.rooms(account)
        scope = f"zoomrooms:{account.id}"
        start = self.pages.read(scope, req.query["next_page_token"]) if req.query.get(
            "next_page_token") else 0
        stop = min(len(rooms), start + size)
        return Response.json({
            "page_count": math.ceil(len(rooms) / size), "page_number": 1, "page_size": size,
            "total_records": len(rooms),
            "next_page_token": self.pages.make(scope, stop) if stop < len(rooms) else "",
            "zoom_rooms": rooms[start:stop],
        })

    def _room_window(self, req: Request, account: Account) -> tuple[list[dict], Response | None]:
        gate = self._dashboard_gate(account)
        if gate:
            return [], gate
        _date_range(req, self.sb.clock.now())
        return self.sb.world.rooms(account), None

    def zoomrooms_top_rooms(self, req: Request, account: Account, _me: int) -> Response:
        """The top 25 Zoom Rooms with issues in the window."""
        rooms, problem = self._room_window(req, account)
        if problem:
            return problem
        ranked = sorted(
            ({"id": r["id"], "room_name": r["room_name"], "issues_count": len(r["issues"])}
             for r in rooms if r["issues"]),
            key=lambda r: (-r["issues_count"], r["room_name"]))[:25]
        return Response.json({"from": req.query["from"], "to": req.query["to"],
                              "total_records": len(ranked), "zoom_rooms": ranked})

    def zoomrooms_top_issues(self, req: Request, account: Account, _me: int) -> Response:
        """The top issues of the account's Zoom Rooms in the window, with how many rooms."""
        rooms, problem = self._room_window(req, account)
        if problem:
            return problem
        tally = Counter(issue for r in rooms for issue in r["issues"])
        issues = [{"issue_name": name, "zoom_rooms_count": count}
                  for name, count in sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))]
        return Response.json({"from": req.query["from"], "to": req.query["to"],
                              "total_records": len(issues), "issues": issues})


MONTH_MESSAGE = "The date range must be within one month."


def _date_range(req: Request, now: float) -> tuple[int, int]:
    """``from``/``to`` required (yyyy-mm-dd), at most one month apart, within the last six
    months. Zoom's wording for a too-wide window is not published; the sandbox answers HTTP 400
    with code 300 (Zoom's code for an invalid field) and ``MONTH_MESSAGE``."""
    days = []
    for name in ("from", "to"):
        value = req.query.get(name, "")
        try:
            days.append(calendar.timegm(time.strptime(value, "%Y-%m-%d")))
        except ValueError:
            raise BadRequest(f"Invalid field: {name} (yyyy-mm-dd required).") from None
    start, end = days
    if end < start or end - start > 31 * 86400:
        raise BadRequest(MONTH_MESSAGE)
    if start < now - 183 * 86400:
        raise BadRequest("The date range must be within the last six months.")
    return start, end
