"""`ZoomClient(tenant)`: HTTP to Zoom's REST API for one tenant, and nothing else.

Owns: base URL, timeouts, the Bearer header (from `oauth.access_token_get`, one retry after a
401 code 124), the shared rate limiter before every call, pagination over `next_page_token` at
each endpoint's maximum page size, `type=past` on dashboard calls, UUID double-encoding, 429
handling (Retry-After in seconds or as a date; a daily limit parks instead of retrying), bounded
jittered retries on 5xx and connection errors, and Zoom's errors as typed exceptions
(zoom_integration/exceptions.py). It writes no model; tokens never reach a log line.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import requests
from django.conf import settings

from observability import hooks as observe

from .backoff import full_jitter_seconds
from .exceptions import (
    ZoomAPIError,
    ZoomAuthError,
    ZoomDashboardUnavailableError,
    ZoomNotFoundError,
    ZoomRateLimitedError,
    ZoomScopeMissingError,
    ZoomTransientError,
)
from .ratelimit import HEAVY, INTENSIVE, LIGHT, MEDIUM, Booking, RateLimiter
from .zoom import CODE_SCOPE_MISSING, DASHBOARD_CAPABILITIES, missing_scopes_parse

logger = logging.getLogger(__name__)

# Maximum page sizes (https://developers.zoom.us/docs/api/users/ and the Dashboards API).
USERS_PAGE_SIZE = 300  # 300 in Zoom's 2018 spec, 2000 claimed today; 300 is safe under both
GROUP_MEMBERS_PAGE_SIZE = 300  # max 300 in Zoom's 2018 spec
PARTICIPANTS_PAGE_SIZE = 300  # default 30, max 300
QOS_PAGE_SIZE = 10  # QoS list default 1, max 10
LIST_PAGE_SIZE = 300  # meeting and webinar lists, Zoom Rooms: max 300

# Zoom's numeric error codes we act on.
CODE_TOKEN_INVALID = 124  # expired or invalid access token (or one sent in a query string)
CODE_DASHBOARD_UNAVAILABLE = 200  # the plan has no Dashboard, or it is disabled
CODE_PAGE_TOKEN_EXPIRED = 300  # next_page_token is invalid or expired (they last 15 min)
CODE_NOT_FOUND = 3001  # meeting does not exist, not ended yet, or a UUID not double-encoded
def encode_uuid(uuid: str) -> str:
    """A meeting UUID for a URL path: double-encoded when it starts with "/" or holds "//".

    Zoom documents this for every meeting-UUID path; otherwise it answers 404 with code 3001.
    """
    once = quote(uuid, safe="")
    if uuid.startswith("/") or "//" in uuid:
        return quote(once, safe="")
    return once


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: seconds, an ISO-8601 date-time, or HTTP-date.

    A daily-limit 429 carries an ISO date-time such as 2026-05-30T00:00:00Z
    (https://developers.zoom.us/docs/api/rest/rate-limits/).
    """
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    now = now or datetime.now(UTC)
    when = None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _setting(name: str, default):
    return getattr(settings, name, default)


class ZoomClient:
    """One tenant's Zoom REST client. Use as a context manager, or call `close()`."""

    def __init__(self, tenant, *, session: requests.Session | None = None,
                 limiter: RateLimiter | None = None, dashboard_type: str = "past"):
        self.tenant = tenant
        # `type` of the per-meeting Dashboard calls: "past", or "pastOne" (past meetings with
        # one participant) for the one last try before an instance counts as "no data".
        self.dashboard_type = dashboard_type
        self.base_url = settings.ZOOM_API_BASE_URL.rstrip("/")
        self.timeout = settings.ZOOM_HTTP_TIMEOUT
        self.session = session or requests.Session()
        self.limiter = limiter or RateLimiter(tenant)
        self.max_retries = int(_setting("ZOOM_HTTP_MAX_RETRIES", 3))
        self.backoff_base = float(_setting("ZOOM_HTTP_BACKOFF_SECONDS", 0.5))
        self.backoff_max = float(_setting("ZOOM_HTTP_BACKOFF_MAX_SECONDS", 8.0))
        # Per-second 429s we wait out in-process before handing back to the task's retry.
        self.max_qps_wait = float(_setting("ZOOM_QPS_MAX_WAIT_SECONDS", 10.0))
        self.calls = 0
        self._token: str | None = None
        self._booking: Booking | None = None
        self.sleep = time.sleep

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> ZoomClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        # The limiter counted every call; the services move the counts to the database.
        self.session.close()

    # -- core --------------------------------------------------------------------------------

    def calls_book(self, category: str, calls: int) -> Booking:
        """Books `calls` of today's budget for a job, all or nothing (raises the daily
        `ZoomRateLimitedError` when they do not fit); spend it with `drawing_on`."""
        return self.limiter.calls_book(category, calls)

    @contextmanager
    def drawing_on(self, booking: Booking) -> Iterator[None]:
        """The block's calls draw on `booking`; what they did not use goes back at the end."""
        self._booking = booking
        try:
            yield
        finally:
            self._booking = None
            self.limiter.calls_release(booking)

    def _access_token(self, rejected: str | None = None) -> str:
        from .oauth import access_token_get

        try:
            if rejected is not None:
                return access_token_get(tenant=self.tenant, rejected_token=rejected)
            return access_token_get(tenant=self.tenant)
        except RuntimeError as exc:
            # oauth refreshes in a durable transaction; inside a metrics write transaction it
            # cannot: give up this attempt, the task retries (and refreshes) outside it.
            raise ZoomTransientError(f"token refresh impossible here: {exc}") from None

    def _backoff(self, failures: int) -> float:
        # Full jitter: spreads the retries of many workers hitting the same hiccup. The first
        # failure already waits up to twice the base (the doubling counts from the call itself).
        return full_jitter_seconds(failures + 1, base=self.backoff_base, cap=self.backoff_max)

    def request(self, method: str, path: str, *, category: str, params: dict | None = None,
                capability: str = "") -> dict:
        """One Zoom call (after the limiter); returns the JSON body, or raises a typed error.

        `capability` (a key of zoom.CAPABILITIES) names what a 4711 answer is about when
        Zoom's message does not list the scopes."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        if self._token is None:
            self._token = self._access_token()
        refreshed = False
        failures = 0
        qps_waited = 0.0
        while True:
            self.limiter.acquire(category, sleep=self.sleep, booking=self._booking)
            self.calls += 1
            try:
                response = self.session.request(
                    method, url, params=params, timeout=self.timeout,
                    headers={"Authorization": f"Bearer {self._token}",
                             "Accept": "application/json"})
            except (requests.ConnectionError, requests.Timeout) as exc:
                failures += 1
                if failures > self.max_retries:
                    raise ZoomTransientError(
                        f"Zoom unreachable: {type(exc).__name__} on {method} {path}") from None
                self.sleep(self._backoff(failures))
                continue

            status = response.status_code
            observe.zoom_response_observed(tenant=self.tenant, category=category, response=response)
            if status < 400:
                if status == 204 or not response.content:
                    return {}
                try:
                    return response.json()
                except ValueError:
                    raise ZoomTransientError(f"Zoom sent a non-JSON answer on {path}",
                                             status=status) from None
            body = _error_body(response)
            code, message = body.get("code"), str(body.get("message") or response.reason or "")

            if status == 401:
                if code == CODE_TOKEN_INVALID and not refreshed:
                    # The token expired or was revoked; get a fresh one once.
                    refreshed = True
                    self._token = self._access_token(rejected=self._token)
                    continue
                raise ZoomAuthError(f"Zoom refused the access token: {message}",
                                    status=status, code=code)
            if status == 429:
                error = self._rate_limited(response, code, message, category)
                self.limiter.record_rate_limited(category)
                if error.daily:
                    self.limiter.park(category, error.retry_after_seconds)
                    raise error
                # Per-second: wait it out here a few times, then let the task retry.
                wait = error.retry_after_seconds
                if qps_waited + wait > self.max_qps_wait:
                    raise error
                qps_waited += wait
                self.sleep(wait)
                continue
            if status >= 500:
                failures += 1
                if failures > self.max_retries:
                    raise ZoomTransientError(f"Zoom answered {status} on {method} {path}",
                                             status=status, code=code)
                self.sleep(self._backoff(failures))
                continue
            if code == CODE_SCOPE_MISSING:
                scopes = missing_scopes_parse(message)
                raise ZoomScopeMissingError(
                    f"Zoom refused {method} {path}: the app lacks scope "
                    f"{', '.join(scopes) or capability or '(not named)'}",
                    scopes=scopes, capability=capability, status=status, code=code)
            if code == CODE_DASHBOARD_UNAVAILABLE:
                raise ZoomDashboardUnavailableError(
                    f"Dashboard unavailable on this Zoom plan: {message}", status=status,
                    code=code)
            if status == 404 or code == CODE_NOT_FOUND:
                raise ZoomNotFoundError(f"Zoom: not found ({message})", status=status, code=code)
            if code == CODE_PAGE_TOKEN_EXPIRED and (params or {}).get("next_page_token"):
                # Page tokens live 15 minutes; the task starts the listing again. Without a
                # page token sent, code 300 is a permanent refusal (e.g. "Can not access
                # webinar info"), raised below.
                raise ZoomTransientError(f"Zoom page token expired: {message}",
                                         status=status, code=code)
            raise ZoomAPIError(f"Zoom answered {status} on {method} {path}: {message}",
                               status=status, code=code)

    def _rate_limited(self, response, code, message, category) -> ZoomRateLimitedError:
        # X-RateLimit-Type is QPS or Daily-limit; some daily 429s lack it: read the text.
        kind = (response.headers.get("X-RateLimit-Type") or "").lower()
        daily = kind.startswith("daily") or (not kind and "daily" in message.lower())
        category = response.headers.get("X-RateLimit-Category") or category
        retry = parse_retry_after(response.headers.get("Retry-After"))
        if daily:
            from .ratelimit import seconds_until_utc_midnight

            retry = retry if retry is not None else seconds_until_utc_midnight()
        else:
            retry = retry if retry is not None else 1.0 + random.uniform(0, 1.0)
        return ZoomRateLimitedError(message or "Zoom rate limit", retry_after_seconds=retry,
                                    daily=daily, category=category, code=code)

    def paginate(self, path: str, *, category: str, page_size: int,
                 params: dict | None = None, capability: str = "") -> Iterator[dict]:
        """Yields each page's JSON body, following `next_page_token`."""
        params = dict(params or {})
        params["page_size"] = page_size
        while True:
            # A copy per call: the page token added below must not show in an earlier call.
            page = self.request("GET", path, category=category, params=dict(params),
                                capability=capability)
            yield page
            token = page.get("next_page_token")
            if not token:
                return
            params["next_page_token"] = token

    def prefetch(self, pages: Iterator[dict], depth: int = 2) -> Iterator[dict]:
        """Yields `pages` while a helper thread already fetches the next ones.

        Paging is sequential (each page names the next), but storing a page need not wait for
        the next request: with this, a sync takes about max(fetch, store), not their sum. The
        helper does HTTP only (no database); its errors are raised here, in order.
        """
        if self._token is None:
            self._token = self._access_token()  # read here: the helper thread has no DB use
        box: queue.Queue = queue.Queue(maxsize=depth)
        stop = threading.Event()
        done = object()

        def produce() -> None:
            try:
                for page in pages:
                    while not stop.is_set():
                        try:
                            box.put(("page", page), timeout=0.2)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                item = ("end", done)
            except BaseException as exc:  # handed to the consumer, raised there
                item = ("error", exc)
            finally:
                # A token refresh (oauth) may have opened this thread's own DB connection.
                from django.db import connections

                connections.close_all()
            while not stop.is_set():
                try:
                    box.put(item, timeout=0.2)
                    return
                except queue.Full:
                    continue

        worker = threading.Thread(target=produce, name="zoom-prefetch", daemon=True)
        worker.start()
        try:
            while True:
                kind, value = box.get()
                if kind == "page":
                    yield value
                elif kind == "error":
                    raise value
                else:
                    return
        finally:
            stop.set()
            worker.join(timeout=60)

    # -- users and groups ----------------------------------------------------------------------

    def users_pages(self, *, status: str = "active") -> Iterator[dict]:
        # https://developers.zoom.us/docs/api/users/#tag/users/GET/users (Medium)
        return self.paginate("users", category=MEDIUM, page_size=USERS_PAGE_SIZE,
                             params={"status": status}, capability="users_list")

    def user_get(self, user_id: str) -> dict:
        # GET /users/{userId} (Light)
        return self.request("GET", f"users/{quote(user_id, safe='')}", category=LIGHT,
                            capability="users_me" if user_id == "me" else "user_get")

    def groups_list(self) -> list[dict]:
        # GET /groups (Medium); no pagination fields in either spec version.
        return list(self.request("GET", "groups", category=MEDIUM,
                                 capability="groups_list").get("groups") or [])

    def group_members_pages(self, group_id: str) -> Iterator[dict]:
        # GET /groups/{groupId}/members (Medium)
        return self.paginate(f"groups/{quote(group_id, safe='')}/members", category=MEDIUM,
                             page_size=GROUP_MEMBERS_PAGE_SIZE, capability="group_members")

    # -- dashboards; always type=past for ended meetings (the default, live, finds nothing) ---

    @staticmethod
    def _dashboard_path(kind: str, uuid: str, suffix: str = "") -> str:
        plural = "webinars" if kind == "webinar" else "meetings"
        return f"metrics/{plural}/{encode_uuid(uuid)}{suffix}"

    @staticmethod
    def _capability(kind: str, call: str) -> str:
        return DASHBOARD_CAPABILITIES["webinar" if kind == "webinar" else "meeting"][call]

    def dashboard_detail(self, kind: str, uuid: str) -> dict:
        # GET /metrics/meetings/{meetingId} (Heavy)
        return self.request("GET", self._dashboard_path(kind, uuid), category=HEAVY,
                            params={"type": self.dashboard_type},
                            capability=self._capability(kind, "detail"))

    def dashboard_participants_pages(self, kind: str, uuid: str) -> Iterator[dict]:
        # GET /metrics/meetings/{meetingId}/participants (Heavy), max 300
        return self.paginate(self._dashboard_path(kind, uuid, "/participants"), category=HEAVY,
                             page_size=PARTICIPANTS_PAGE_SIZE,
                             params={"type": self.dashboard_type,
                                     "include_fields": "registrant_id"},
                             capability=self._capability(kind, "participants"))

    def dashboard_qos_pages(self, kind: str, uuid: str) -> Iterator[dict]:
        # GET /metrics/meetings/{meetingId}/participants/qos (Heavy), max 10. Its `type` takes
        # only past or live (no pastOne).
        return self.paginate(self._dashboard_path(kind, uuid, "/participants/qos"),
                             category=HEAVY, page_size=QOS_PAGE_SIZE, params={"type": "past"},
                             capability=self._capability(kind, "qos"))

    # -- Dashboard lists: every past meeting and webinar in a window --------------------------
    # GET /metrics/meetings and /metrics/webinars (Resource-intensive): type=past, from/to as
    # yyyy-mm-dd at most one month apart, page_size up to 300, next_page_token.
    # https://developers.zoom.us/docs/api/accounts/#tag/dashboards/GET/metrics/meetings

    def _past_list(self, plural: str, date_from, date_to) -> Iterator[dict]:
        return self.paginate(f"metrics/{plural}", category=INTENSIVE, page_size=LIST_PAGE_SIZE,
                             params={"type": "past", "from": date_from.isoformat(),
                                     "to": date_to.isoformat()},
                             capability=f"{plural}_list")

    def past_meetings_list(self, *, date_from, date_to) -> Iterator[dict]:
        """Pages of past meetings (each with `meetings`) between two dates."""
        return self._past_list("meetings", date_from, date_to)

    def past_webinars_list(self, *, date_from, date_to) -> Iterator[dict]:
        """Pages of past webinars (each with `webinars`) between two dates."""
        return self._past_list("webinars", date_from, date_to)

    # -- Account overview ("View overview of usage statistics for Meetings and Zoom Rooms") --
    # Rate labels of these are not published; counted as Heavy (the daily cap) to be safe,
    # except the Zoom Rooms list, which is Resource-intensive.

    def quality_scores(self, *, date_from, date_to) -> dict:
        # GET /metrics/quality?from&to: {quality: {audio|video|screen_share: {good, ...}}}
        return self.request("GET", "metrics/quality", category=HEAVY,
                            params={"from": date_from.isoformat(), "to": date_to.isoformat(),
                                    "type": "meeting"}, capability="overview_quality")

    def client_versions(self) -> dict:
        # GET /metrics/client_versions: {client_versions: [{client_version, total_count}]}
        return self.request("GET", "metrics/client_versions", category=HEAVY,
                            capability="overview_client_versions")

    def zoom_rooms_pages(self) -> Iterator[dict]:
        # GET /metrics/zoomrooms: rooms with status, health and issues, 300 a page
        return self.paginate("metrics/zoomrooms", category=INTENSIVE,
                             page_size=LIST_PAGE_SIZE, capability="overview_zoomrooms")

    def zoom_rooms_top(self, *, date_from, date_to) -> dict:
        # GET /metrics/issues/zoomrooms: the top 25 rooms with issues
        return self.request("GET", "metrics/issues/zoomrooms", category=HEAVY,
                            params={"from": date_from.isoformat(), "to": date_to.isoformat()},
                            capability="overview_zoomrooms")

    def zoom_rooms_top_issues(self, *, date_from, date_to) -> dict:
        # GET /metrics/zoomrooms/issues: the top issues across rooms
        return self.request("GET", "metrics/zoomrooms/issues", category=HEAVY,
                            params={"from": date_from.isoformat(), "to": date_to.isoformat()},
                            capability="overview_zoomrooms")


def _error_body(response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    try:
        body["code"] = int(body["code"]) if body.get("code") is not None else None
    except (TypeError, ValueError):
        body["code"] = None
    return body
