"""The REST API under ``/v2``: users, groups and dashboard metrics (zoom-api-reference.md §3, §4).

Owns routing of ``/v2`` paths to rate-limit categories, Bearer authentication, the order in which
Zoom's checks apply (token, then limits, then plan), paging with expiring ``next_page_token``s,
the ``type`` default, the double-encoding rule and the data delay after a meeting ends.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import json
import math
import secrets
import time
from typing import TYPE_CHECKING
from urllib.parse import unquote

from .protocol import Request, Response, zoom_error
from .ratelimit import HEAVY, INTENSIVE, LIGHT, MEDIUM, limits_for
from .world import Account, Meeting

if TYPE_CHECKING:
    from .control import Sandbox

USERS_PAGE_MAX = 300  # §3: 300 in spec-2018 (2000 per a 2026 summary); 300 is safe under both
PAGE_DEFAULT, PAGE_MAX = 30, 300  # §3 group members, §4.1 lists and participants
QOS_PAGE_DEFAULT, QOS_PAGE_MAX = 1, 10  # §4.1: the QoS list is "default 1, max 10"
NOT_FOUND_MEETING = "Meeting does not exist: {}."
NOT_ENDED = "Meeting ID is invalid or not end."  # §4.5


class BadRequest(Exception):
    def __init__(self, message: str, code: int = 300):
        super().__init__(message)
        self.code = code


class PageTokens:
    """Stateless ``next_page_token``s that expire after 15 minutes (§3, §4.1)."""

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
            # §4.1: code 300 "The next page token is invalid or expired".
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
    """The meeting id/UUID in a path segment, as Zoom reads it (§4.1 "Double encoding", §6.4).

    The path is decoded once. A UUID that starts with "/" or contains "//" survives that only
    if the client encoded it twice; encoded once it is not found (404, 3001).
    """
    once = unquote(segment)
    if "%" in once:
        return unquote(once)  # double-encoded: works for every UUID
    if once.startswith("/") or "//" in once:
        return None
    return once


def route(segments: list[str]) -> tuple[str, str, list[str]] | None:
    """(handler name, rate-limit category, path arguments) for a /v2 path; §3, §4.1 labels."""
    match segments:
        case ["users"]:
            return "users", MEDIUM, []
        case ["users", user_id]:
            return "user", LIGHT, [unquote(user_id)]
        case ["groups"]:
            return "groups", MEDIUM, []
        case ["groups", group_id, "members"]:
            return "members", MEDIUM, [unquote(group_id)]
        case ["metrics", ("meetings" | "webinars") as kind]:
            return "metrics_list", INTENSIVE, [kind]
        case ["metrics", ("meetings" | "webinars") as kind, ident]:
            return "metrics_detail", HEAVY, [kind, ident]
        case ["metrics", ("meetings" | "webinars") as kind, ident, "participants"]:
            return "metrics_participants", HEAVY, [kind, ident]
        case ["metrics", ("meetings" | "webinars") as kind, ident, "participants", "qos"]:
            return "metrics_qos", HEAVY, [kind, ident]
        case ["metrics", ("meetings" | "webinars") as kind, *_]:
            # An unencoded "/" inside a UUID splits the path: Zoom answers 3001 (§6 item 4).
            return "metrics_broken", HEAVY, [kind]
    return None


class RestApi:
    def __init__(self, sandbox: Sandbox):
        self.sb = sandbox
        self.pages = PageTokens(sandbox)

    def handle(self, req: Request) -> Response:
        segments = req.raw_path.split("?")[0].split("/")[2:]  # drop "" and "v2"
        found = route(segments)
        if found is None or req.method != "GET":
            return zoom_error(404, 404, "Not Found")
        name, category, args = found
        token, problem = self.sb.oauth.bearer(req)  # §1.1: Bearer header only, else 124
        if problem:
            return problem
        account = self.sb.world.account(token.account_id)
        limiter = self.sb.limiter
        limiter.observe(account.id, category)
        delay, injected = self.sb.faults.apply(req.raw_path, category)
        if delay:
            time.sleep(delay)
        if injected:
            return injected
        limits = limits_for(account.plan, self.sb.config.rate_limits)
        refused, rate_headers = limiter.admit(account.id, category, limits)  # §5
        if refused:
            return refused
        try:
            answer = getattr(self, name)(req, account, token.user_index, *args)
        except BadRequest as exc:
            answer = zoom_error(400, exc.code, str(exc))
        answer.headers.update(rate_headers)
        return answer

    # -- users and groups, §3 ------------------------------------------------------------------

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
        groups = self.sb.world.groups(account)  # §3: no pagination fields
        return Response.json({"total_records": len(groups), "groups": groups})

    def members(self, req: Request, account: Account, _me: int, ident: str) -> Response:
        group = self.sb.world.find_group(account, ident)
        if group is None:
            return zoom_error(404, 4130, f"Group does not exist: {ident}.")  # §3
        size = page_size(req, PAGE_DEFAULT, PAGE_MAX)
        scope = f"members:{account.id}:{group}"
        start = self.pages.read(scope, req.query["next_page_token"]) if req.query.get(
            "next_page_token") else group
        found, next_index = self.sb.world.scan_members(account, group, start, size)
        total = self.sb.world.group_member_total(account, group)
        return Response.json({
            "members": found, "page_count": math.ceil(total / size), "page_number": 1,
            "page_size": size, "total_records": total,
            "next_page_token": self.pages.make(scope, next_index) if next_index else "",
        })

    # -- dashboard, §4 ---------------------------------------------------------------------------

    def _dashboard_gate(self, account: Account) -> Response | None:
        # §4 / §6 item 9: Business+ with the Dashboard enabled, else error code 200.
        if not account.dashboard or account.plan not in ("business",):
            return zoom_error(400, 200,
                              "Only available for paid account and enabled Dashboard feature.")
        return None

    @staticmethod
    def _type(req: Request, allowed: tuple[str, ...] = ("past", "pastOne", "live")) -> str:
        value = req.query.get("type", "live")  # §4.1: type defaults to live
        if value not in allowed:
            raise BadRequest("Invalid field: type.")
        return value

    def _available(self, meeting: Meeting) -> bool:
        # §4.5: dashboard data appears "a minute or two" after the meeting ends.
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
            # §4.1, §6 item 5: an ended meeting is not found as a live one.
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
        # §4.1 / §6 item 5: without type=past an ended meeting's lists come back empty.
        total = 0 if mtype == "live" else meeting.participants
        stop = min(total, start + size)
        make = self.sb.world.qos_participant if qos else self.sb.world.participant
        return Response.json({
            "page_count": math.ceil(total / size), "page_size": size, "total_records": total,
            "next_page_token": self.pages.make(scope, stop) if stop < total else "",
            "participants": [make(account, meeting, p) for p in range(start, stop)],
        })

    def metrics_participants(self, req: Request, account: Account, _me: int, kind: str,
                             segment: str) -> Response:
        return self._participants(req, account, kind, segment, qos=False)

    def metrics_qos(self, req: Request, account: Account, _me: int, kind: str,
                    segment: str) -> Response:
        return self._participants(req, account, kind, segment, qos=True)

    def metrics_list(self, req: Request, account: Account, _me: int, kind: str) -> Response:
        gate = self._dashboard_gate(account)
        if gate:
            return gate
        mtype = self._type(req)
        start_day, end_day = _date_range(req, self.sb.clock.now())
        size = page_size(req, PAGE_DEFAULT, PAGE_MAX)
        found = sorted(
            (m for m in list(account.meetings.values())
             if m.kind == kind[:-1] and mtype != "live" and self._available(m)
             and start_day <= m.end < end_day + 86400
             and (mtype != "pastOne" or m.participants == 1)),
            key=lambda m: (-m.start, m.uuid),
        )
        scope = f"list:{account.id}:{kind}:{mtype}:{start_day}:{end_day}"
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


def _date_range(req: Request, now: float) -> tuple[int, int]:
    """§4.5: ``from``/``to`` required, at most one month apart, within the last six months."""
    days = []
    for name in ("from", "to"):
        value = req.query.get(name, "")
        try:
            days.append(calendar.timegm(time.strptime(value, "%Y-%m-%d")))
        except ValueError:
            raise BadRequest(f"Invalid field: {name} (yyyy-mm-dd required).") from None
    start, end = days
    if end < start or end - start > 31 * 86400:
        raise BadRequest("The date range must be at most one month.")
    if start < now - 183 * 86400:
        raise BadRequest("The date range must be within the last six months.")
    return start, end
