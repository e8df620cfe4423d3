"""ZoomClient details: each endpoint's exact request, 429 reading, error bodies, backoff and
the prefetch thread, against `responses` (only Zoom is faked)."""

import random
import re
import threading
import time
from datetime import UTC, date, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from zoom_integration.client import ZoomClient, parse_retry_after
from zoom_integration.exceptions import (
    ZoomAPIError,
    ZoomAuthError,
    ZoomDashboardUnavailableError,
    ZoomNotFoundError,
    ZoomRateLimitedError,
    ZoomScopeMissingError,
    ZoomTransientError,
)

from .conftest import API

pytestmark = pytest.mark.django_db

ANY = re.compile(rf"{re.escape(API)}/.*")
FROM, TO = date(2026, 5, 1), date(2026, 5, 31)
WINDOW = {"from": "2026-05-01", "to": "2026-05-31"}


def _query(call) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def _path(call) -> str:
    return urlsplit(call.request.url).path.removeprefix("/v2/")


def _consume(result):
    # Paged endpoints answer an iterator; a request answers the body (or a list).
    return result if isinstance(result, dict | list) else list(result)


@pytest.fixture
def no_spacing(settings):
    # The limiter spaces calls by sleeping through the client's `sleep`; an interval below
    # 1 ms keeps it from sleeping, so a test sees only the client's own waits.
    settings.ZOOM_RATE_LIMIT_SAFETY = 1e9


@pytest.fixture
def midpoint_uniform(monkeypatch):
    # Jitter drawn in the middle of its range: the waits become exact numbers.
    monkeypatch.setattr(random, "uniform", lambda low, high: low + (high - low) / 2)


# -- every endpoint: path, query, rate category, capability -----------------------------------

# (call, path, query, rate category, capability named in a 4711 refusal)
ENDPOINTS = [
    (lambda c: c.user_get("me"), "users/me", {}, "Light", "users_me"),
    (lambda c: c.user_get("a/b+c@x.org"), "users/a%2Fb%2Bc%40x.org", {}, "Light", "user_get"),
    (lambda c: c.users_pages(), "users", {"page_size": "300", "status": "active"}, "Medium",
     "users_list"),
    (lambda c: c.groups_list(), "groups", {}, "Medium", "groups_list"),
    (lambda c: c.group_members_pages("G/1"), "groups/G%2F1/members", {"page_size": "300"},
     "Medium", "group_members"),
    (lambda c: c.dashboard_detail("meeting", "m=="), "metrics/meetings/m%3D%3D",
     {"type": "past"}, "Heavy", "meeting_detail"),
    (lambda c: c.dashboard_detail("webinar", "w=="), "metrics/webinars/w%3D%3D",
     {"type": "past"}, "Heavy", "webinar_detail"),
    (lambda c: c.dashboard_participants_pages("meeting", "m"), "metrics/meetings/m/participants",
     {"type": "past", "page_size": "300", "include_fields": "registrant_id"}, "Heavy",
     "meeting_participants"),
    (lambda c: c.dashboard_participants_pages("webinar", "w"), "metrics/webinars/w/participants",
     {"type": "past", "page_size": "300", "include_fields": "registrant_id"}, "Heavy",
     "webinar_participants"),
    (lambda c: c.dashboard_qos_pages("meeting", "m"), "metrics/meetings/m/participants/qos",
     {"type": "past", "page_size": "10"}, "Heavy", "meeting_qos"),
    (lambda c: c.dashboard_qos_pages("webinar", "w"), "metrics/webinars/w/participants/qos",
     {"type": "past", "page_size": "10"}, "Heavy", "webinar_qos"),
    (lambda c: c.past_meetings_list(date_from=FROM, date_to=TO), "metrics/meetings",
     {"type": "past", "page_size": "300", **WINDOW}, "Resource-intensive", "meetings_list"),
    (lambda c: c.past_webinars_list(date_from=FROM, date_to=TO), "metrics/webinars",
     {"type": "past", "page_size": "300", **WINDOW}, "Resource-intensive", "webinars_list"),
    (lambda c: c.quality_scores(date_from=FROM, date_to=TO), "metrics/quality",
     {"type": "meeting", **WINDOW}, "Heavy", "overview_quality"),
    (lambda c: c.client_versions(), "metrics/client_versions", {}, "Heavy",
     "overview_client_versions"),
    (lambda c: c.zoom_rooms_pages(), "metrics/zoomrooms", {"page_size": "300"},
     "Resource-intensive", "overview_zoomrooms"),
    (lambda c: c.zoom_rooms_top(date_from=FROM, date_to=TO), "metrics/issues/zoomrooms",
     WINDOW, "Heavy", "overview_zoomrooms"),
    (lambda c: c.zoom_rooms_top_issues(date_from=FROM, date_to=TO), "metrics/zoomrooms/issues",
     WINDOW, "Heavy", "overview_zoomrooms"),
]
IDS = [f"{e[1]}-{e[4]}" for e in ENDPOINTS]


@pytest.mark.parametrize(("call", "path", "query", "category", "capability"), ENDPOINTS,
                         ids=IDS)
@responses.activate
def test_each_endpoint_sends_its_path_and_query_and_counts_its_category(
        connected, call, path, query, category, capability):
    from zoom_integration.models import ApiUsage
    from zoom_integration.ratelimit import api_usage_flush

    body = {"groups": [{"id": "G"}], "next_page_token": ""}
    responses.get(ANY, json=body)
    with ZoomClient(connected) as client:
        answer = _consume(call(client))
    assert answer in (body, [body], [{"id": "G"}])
    (sent,) = responses.calls
    assert _path(sent) == path
    assert _query(sent) == query
    api_usage_flush(tenant=connected)
    assert {u.category: u.calls for u in ApiUsage.objects.filter(tenant=connected)} == {
        category: 1}


@pytest.mark.parametrize(("call", "path", "query", "category", "capability"), ENDPOINTS,
                         ids=IDS)
@responses.activate
def test_a_missing_scope_names_the_call_and_its_capability(
        connected, call, path, query, category, capability):
    # Zoom's 4711 without a bracketed list: the capability is all that says what is missing.
    responses.get(ANY, status=400, json={
        "code": 4711, "message": "Invalid access token, does not contain scopes."})
    with ZoomClient(connected) as client, pytest.raises(ZoomScopeMissingError) as err:
        _consume(call(client))
    assert err.value.capability == capability
    assert not err.value.scopes
    assert f"Zoom refused GET {path}: the app lacks scope {capability}" in str(err.value)


# -- 429: daily or per-second, its category, its wait ----------------------------------------

@responses.activate
def test_a_daily_type_header_is_daily_whatever_the_message(connected):
    responses.get(f"{API}/groups", status=429, headers={"X-RateLimit-Type": "Daily-limit"},
                  json={"code": 429, "message": "Too many requests"})
    with ZoomClient(connected) as client, pytest.raises(ZoomRateLimitedError) as err:
        client.groups_list()
    assert err.value.daily is True
    assert str(err.value) == "Too many requests"
    assert err.value.code == 429



def test_a_429_with_no_message_and_no_reason_phrase_still_says_what_it_is(connected):
    # An empty body and a bare status line ("HTTP/1.1 429"): nothing from Zoom to show staff.
    import requests

    bare = requests.Response()
    bare.status_code, bare.reason = 429, ""
    bare.headers["Retry-After"] = "2"
    with ZoomClient(connected) as client:
        error = client._rate_limited(bare, None, "", "Light")
    assert (str(error), error.daily, error.retry_after_seconds) == ("Zoom rate limit", False, 2)

@responses.activate
def test_a_qps_type_header_is_per_second_even_if_the_message_says_daily(
        connected, settings, no_spacing):
    settings.ZOOM_QPS_MAX_WAIT_SECONDS = 0
    responses.get(f"{API}/groups", status=429, headers={
        "X-RateLimit-Type": "QPS", "Retry-After": "3"},
        json={"code": 429, "message": "daily or not, the header decides"})
    with ZoomClient(connected) as client, pytest.raises(ZoomRateLimitedError) as err:
        client.groups_list()
    assert err.value.daily is False
    assert err.value.retry_after_seconds == 3


def _waits_before_the_groups(connected, **first_answer) -> list:
    """The waits of a groups listing whose first answer is a 429 (`first_answer`) and whose
    retry succeeds; the listing itself must come back complete."""
    responses.get(f"{API}/groups", status=429, **first_answer)
    responses.get(f"{API}/groups", json={"groups": []})
    waits = []
    with ZoomClient(connected) as client:
        client.sleep = waits.append
        assert client.groups_list() == []
    return waits


@responses.activate
def test_without_headers_a_message_without_daily_is_per_second(
        connected, no_spacing, midpoint_uniform):
    # No Retry-After: a per-second 429 waits 1 to 2 s (here the midpoint), then tries again.
    assert _waits_before_the_groups(connected, json={
        "message": "You have reached the maximum per-second rate limit."}) == [1.5]


@responses.activate
def test_every_call_to_zoom_carries_the_configured_timeout(connected, settings):
    # Without one, requests waits forever on a Zoom that accepted the connection and went quiet.
    settings.ZOOM_HTTP_TIMEOUT = (3.5, 21.0)
    responses.get(f"{API}/groups", json={"groups": []})
    with ZoomClient(connected) as client:
        client.groups_list()
    (call,) = responses.calls
    assert call.request.req_kwargs["timeout"] == (3.5, 21.0)
    assert call.request.headers["Authorization"] == "Bearer tok-1"
    # Asked for JSON, not requests' default "*/*": an error page must not pass for an answer.
    assert call.request.headers["Accept"] == "application/json"


@responses.activate
def test_every_answer_is_counted_with_its_tenant_category_and_status(connected, no_spacing):
    from prometheus_client import REGISTRY

    def answers(status: str) -> float:
        return REGISTRY.get_sample_value("portal_zoom_api_calls_total", {
            "tenant": connected.slug, "category": "Medium", "status": status}) or 0.0

    before = answers("200"), answers("404")
    responses.get(f"{API}/groups", json={"groups": []})
    responses.get(f"{API}/groups/G1/members", status=404, json={"code": 4130, "message": "no"})
    with ZoomClient(connected) as client:
        client.groups_list()
        with pytest.raises(ZoomNotFoundError):
            client.request("GET", "groups/G1/members", category="Medium")
    assert (answers("200") - before[0], answers("404") - before[1]) == (1, 1)


def test_without_settings_the_client_uses_its_documented_defaults(connected, settings):
    # docs/configuration.md lists these defaults; an operator sets none of them by default.
    for name in ("ZOOM_HTTP_MAX_RETRIES", "ZOOM_HTTP_BACKOFF_SECONDS",
                 "ZOOM_HTTP_BACKOFF_MAX_SECONDS", "ZOOM_QPS_MAX_WAIT_SECONDS"):
        if hasattr(settings, name):
            delattr(settings, name)
    with ZoomClient(connected) as client:
        assert (client.max_retries, client.backoff_base, client.backoff_max,
                client.max_qps_wait) == (3, 0.5, 8.0, 10.0)


def test_each_retry_setting_is_read_from_its_own_name(connected, settings):
    settings.ZOOM_HTTP_MAX_RETRIES = 5
    settings.ZOOM_HTTP_BACKOFF_SECONDS = 0.25
    settings.ZOOM_HTTP_BACKOFF_MAX_SECONDS = 2
    settings.ZOOM_QPS_MAX_WAIT_SECONDS = 4
    with ZoomClient(connected) as client:
        assert (client.max_retries, client.backoff_base, client.backoff_max,
                client.max_qps_wait) == (5, 0.25, 2.0, 4.0)


def test_the_api_base_url_loses_only_its_trailing_slashes(connected, settings):
    settings.ZOOM_API_BASE_URL = "https://proxy.example/zoomX//"
    with ZoomClient(connected) as client:
        assert client.base_url == "https://proxy.example/zoomX"


@responses.activate
def test_a_refresh_needed_inside_a_caller_s_transaction_is_transient_and_says_why(tenant):
    # The refresh commits the rotated pair in its own durable transaction, which cannot run
    # inside another: this attempt gives up, and the task retries outside it.
    from django.db import transaction

    from tests.oauth.conftest import connect

    connect(tenant, expires_in=10)  # due for a refresh
    with transaction.atomic(), ZoomClient(tenant) as client, \
            pytest.raises(ZoomTransientError) as err:
        client.request("GET", "groups", category="Medium")
    assert str(err.value).startswith("token refresh impossible here: ")
    assert "durable" in str(err.value)
    assert not responses.calls


# -- what an answer that is not the expected JSON becomes ----------------------------------------
# The error's text is what staff read on the connection and in the logs: it names the call.

@responses.activate
def test_an_unreachable_zoom_is_named_with_the_network_error_and_the_call(connected, settings):
    import requests

    settings.ZOOM_HTTP_MAX_RETRIES = 0
    responses.get(f"{API}/groups", body=requests.ConnectionError("refused"))
    with ZoomClient(connected) as client, pytest.raises(ZoomTransientError) as err:
        client.request("GET", "groups", category="Medium")
    assert str(err.value) == "Zoom unreachable: ConnectionError on GET groups"


@responses.activate
def test_a_success_with_an_empty_body_is_an_empty_answer(connected):
    # A success with nothing in it is an empty answer, not a broken one (as a 204 is).
    responses.get(f"{API}/groups", status=200, body="")
    with ZoomClient(connected) as client:
        assert client.request("GET", "groups", category="Medium") == {}


@responses.activate
def test_a_refusal_without_a_json_message_shows_the_status_line_s_reason(connected):
    responses.get(f"{API}/users/u1", status=404, body="<html>gone</html>")
    with ZoomClient(connected) as client, pytest.raises(ZoomNotFoundError) as err:
        client.user_get("u1")
    assert str(err.value) == "Zoom: not found (Not Found)"


# (answer, error class, its text, status, code): what each refusal becomes, whole; staff read
# the text, the tasks branch on the class, the status and Zoom's code.
REFUSALS = [
    (dict(status=401, json={"code": 4700, "message": "Invalid access token"}), ZoomAuthError,
     "Zoom refused the access token: Invalid access token", 401, 4700),
    (dict(status=502, json={"code": 5003, "message": "upstream"}), ZoomTransientError,
     "Zoom answered 502 on GET groups", 502, 5003),
    (dict(status=400, json={"code": 4711, "message": (
        "Invalid access token, does not contain scopes:[group:read:admin, "
        "group:read:list_groups:admin].")}),
     ZoomScopeMissingError, "Zoom refused GET groups: the app lacks scope group:read:admin, "
     "group:read:list_groups:admin", 400, 4711),
    (dict(status=400, json={"code": 4711, "message": "Invalid access token, does not contain "
                                                     "scopes."}),
     ZoomScopeMissingError, "Zoom refused GET groups: the app lacks scope (not named)", 400, 4711),
    # Whatever status a 4711 comes with, the error keeps it (not the class's usual 400).
    (dict(status=403, json={"code": 4711, "message": "does not contain scopes."}),
     ZoomScopeMissingError, "Zoom refused GET groups: the app lacks scope (not named)", 403, 4711),
    (dict(status=400, json={"code": 200, "message": "No permission."}),
     ZoomDashboardUnavailableError, "Dashboard unavailable on this Zoom plan: No permission.",
     400, 200),
    (dict(status=404, json={"code": 3001, "message": "Meeting does not exist: 86."}),
     ZoomNotFoundError, "Zoom: not found (Meeting does not exist: 86.)", 404, 3001),
    (dict(status=400, json={"code": 300, "message": "Can not access webinar info."}),
     ZoomAPIError, "Zoom answered 400 on GET groups: Can not access webinar info.", 400, 300),
    # A success that is not JSON (e.g. a proxy's HTML page): worth trying again later, never
    # parsed as data.
    (dict(status=200, body="<html>maintenance</html>"), ZoomTransientError,
     "Zoom sent a non-JSON answer on groups", 200, None),
    # 460 has no standard reason phrase: with a bare status line and an empty body the error
    # names the status and the call and invents no text.
    (dict(status=460, body=""), ZoomAPIError, "Zoom answered 460 on GET groups: ", 460, None),
]


@pytest.mark.parametrize(("answer", "kind", "text", "status", "code"), REFUSALS,
                         ids=["auth", "5xx", "scopes", "scope-unnamed", "scope-403", "dashboard",
                              "not-found", "other", "not-json", "bare-status-line"])
@responses.activate
def test_each_refusal_becomes_its_error_with_text_status_and_code(
        connected, settings, answer, kind, text, status, code):
    settings.ZOOM_HTTP_MAX_RETRIES = 0
    responses.get(f"{API}/groups", **answer)
    with ZoomClient(connected) as client, pytest.raises(kind) as err:
        client.request("GET", "groups", category="Medium")
    assert (type(err.value), str(err.value), err.value.status, err.value.code) == (
        kind, text, status, code)


@responses.activate
def test_an_expired_page_token_is_transient_with_its_text_status_and_code(connected):
    # Code 300 on a request that sent a page token: the listing starts again later.
    responses.get(f"{API}/groups", status=400,
                  json={"code": 300, "message": "The next page token is invalid or expired."})
    with ZoomClient(connected) as client, pytest.raises(ZoomTransientError) as err:
        client.request("GET", "groups", category="Medium", params={"next_page_token": "t1"})
    assert (str(err.value), err.value.status, err.value.code) == (
        "Zoom page token expired: The next page token is invalid or expired.", 400, 300)


@responses.activate
def test_the_per_second_wait_budget_adds_up_every_wait_of_the_call(
        connected, settings, no_spacing):
    # Three per-second 429s of 1 s each against a budget of 2.5 s: the third is not waited out.
    settings.ZOOM_QPS_MAX_WAIT_SECONDS = 2.5
    for _ in range(3):
        responses.get(f"{API}/groups", status=429,
                      headers={"X-RateLimit-Type": "QPS", "Retry-After": "1"}, json={})
    responses.get(f"{API}/groups", json={"groups": []})
    waits = []
    with ZoomClient(connected) as client, pytest.raises(ZoomRateLimitedError) as err:
        client.sleep = waits.append
        client.groups_list()
    assert (waits, err.value.daily, len(responses.calls)) == ([1, 1], False, 3)


@responses.activate
def test_the_limiter_spaces_calls_through_the_client_s_sleep(connected, settings):
    # The limiter's wait goes through the sleep the client was given (a task's, or a test's),
    # never through time.sleep behind its back.
    settings.ZOOM_RATE_LIMIT_SAFETY = 0.05  # calls spaced by a third of a second or more
    responses.get(f"{API}/groups", json={"groups": []})
    waits = []
    with ZoomClient(connected) as client:
        client.sleep = waits.append
        client.groups_list()
        client.groups_list()
    assert len(responses.calls) == 2
    assert len(waits) == 1 and waits[0] > 0.1


@responses.activate
def test_a_per_second_wait_of_exactly_the_budget_is_waited_out(connected, settings, no_spacing):
    # The budget counts only this call's waits: one of exactly ZOOM_QPS_MAX_WAIT_SECONDS fits.
    settings.ZOOM_QPS_MAX_WAIT_SECONDS = 3
    assert _waits_before_the_groups(
        connected, headers={"X-RateLimit-Type": "QPS", "Retry-After": "3"},
        json={"message": "per-second"}) == [3]


@responses.activate
def test_a_daily_message_without_headers_parks_until_midnight(connected, no_spacing):
    from zoom_integration.ratelimit import seconds_until_utc_midnight

    responses.get(f"{API}/groups", status=429,
                  json={"code": 429, "message": "Maximum DAILY rate limit reached"})
    with ZoomClient(connected) as client, pytest.raises(ZoomRateLimitedError) as err:
        client.sleep = pytest.fail  # a daily 429 is never waited out in-process
        client.groups_list()
    assert err.value.daily is True
    assert abs(err.value.retry_after_seconds - seconds_until_utc_midnight()) < 60


@responses.activate
def test_the_429_category_is_zoom_s_header_else_the_call_s(connected, settings):
    settings.ZOOM_QPS_MAX_WAIT_SECONDS = 0
    responses.get(f"{API}/groups", status=429, headers={
        "X-RateLimit-Type": "QPS", "X-RateLimit-Category": "Light", "Retry-After": "5"},
        json={"message": "per-second"})
    responses.get(f"{API}/users", status=429, headers={
        "X-RateLimit-Type": "QPS", "Retry-After": "5"}, json={"message": "per-second"})
    with ZoomClient(connected) as client:
        with pytest.raises(ZoomRateLimitedError) as named:
            client.groups_list()
        with pytest.raises(ZoomRateLimitedError) as unnamed:
            list(client.users_pages())
    assert named.value.category == "Light"
    assert unnamed.value.category == "Medium"
    # Zoom sent no code: the error carries none.
    assert unnamed.value.code is None


@pytest.mark.parametrize(("value", "seconds"), [
    ("0", 0),                                  # "now" stays 0, not a minimum wait
    ("-5", 0),
    ("2026-05-29T22:00:00Z", 0),               # a reset already past
    ("2026-05-30T00:00:00", 3600),             # no offset: read as UTC
    ("2026-05-30T02:00:00+02:00", 3600),       # an offset is kept
    ("Sat, 30 May 2026 02:00:00 +0200", 3600),
    ("  90 ", 90),
])
def test_parse_retry_after_edges(value, seconds):
    now = datetime(2026, 5, 29, 23, 0, tzinfo=UTC)
    assert parse_retry_after(value, now=now) == seconds


# -- error bodies ------------------------------------------------------------------------------

@responses.activate
def test_a_code_sent_as_text_is_read_as_a_number(connected):
    responses.get(f"{API}/groups", status=400, json={"code": "3001", "message": "gone"})
    with ZoomClient(connected) as client, pytest.raises(ZoomNotFoundError) as err:
        client.groups_list()
    assert err.value.code == 3001


@pytest.mark.parametrize("body", [{"message": "bad request"}, {"code": "oops",
                                                                "message": "bad request"},
                                  {"code": None, "message": "bad request"}])
@responses.activate
def test_a_missing_or_unreadable_code_is_none(connected, body):
    responses.get(f"{API}/groups", status=400, json=body)
    with ZoomClient(connected) as client, pytest.raises(ZoomAPIError) as err:
        client.groups_list()
    assert type(err.value) is ZoomAPIError
    assert err.value.code is None
    assert str(err.value) == "Zoom answered 400 on GET groups: bad request"


# -- backoff -----------------------------------------------------------------------------------

@responses.activate
def test_5xx_backoff_doubles_from_twice_the_base(connected, settings, no_spacing,
                                                 midpoint_uniform):
    settings.ZOOM_HTTP_BACKOFF_SECONDS = 1
    settings.ZOOM_HTTP_BACKOFF_MAX_SECONDS = 100
    responses.get(f"{API}/groups", status=502)
    responses.get(f"{API}/groups", status=503)
    responses.get(f"{API}/groups", json={"groups": []})
    waits = []
    with ZoomClient(connected) as client:
        client.sleep = waits.append
        client.groups_list()
    # Full jitter over 2 s then 4 s, drawn at the midpoint.
    assert waits == [1.0, 2.0]


# -- prefetch ----------------------------------------------------------------------------------

def _pages(n, *, then=None, seen=None):
    for i in range(n):
        if seen is not None:
            seen.append((threading.current_thread().name, threading.current_thread().daemon))
        yield {"page": i}
    if then is not None:
        raise then


def _prefetch_threads():
    return [t for t in threading.enumerate() if t.name == "zoom-prefetch"]


def test_prefetch_yields_every_page_in_order(connected):
    client = ZoomClient(connected)
    assert list(client.prefetch(_pages(5))) == [{"page": i} for i in range(5)]
    assert list(client.prefetch(_pages(0))) == []
    assert not _prefetch_threads()


def test_prefetch_raises_the_helper_s_error_after_the_pages_before_it(connected):
    client = ZoomClient(connected)
    got = []
    with pytest.raises(ZoomTransientError, match="page token expired"):
        for page in client.prefetch(_pages(2, then=ZoomTransientError("page token expired"))):
            got.append(page)
    assert got == [{"page": 0}, {"page": 1}]
    assert not _prefetch_threads()


def test_prefetch_fetches_in_a_daemon_helper_thread(connected):
    seen = []
    list(ZoomClient(connected).prefetch(_pages(1, seen=seen)))
    # A daemon never holds a worker process at exit; the name shows in thread dumps.
    assert seen == [("zoom-prefetch", True)]


def test_prefetch_holds_at_most_two_pages_ahead_of_the_consumer(connected):
    # A page can be 300 users or participants: the helper runs ahead by the queue's two pages
    # plus the one it is waiting to hand over, not through the whole listing.
    pulled = []

    def counted():
        for i in range(20):
            pulled.append(i)
            yield {"page": i}

    pages = ZoomClient(connected).prefetch(counted())
    assert next(pages) == {"page": 0}
    deadline = time.monotonic() + 5
    while len(pulled) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # time enough to run further ahead, if it could
    assert len(pulled) == 4  # the one taken, two queued, one waiting to be put
    pages.close()


def test_a_slow_consumer_still_gets_every_page(connected):
    # The helper finds the queue full while the consumer works; it must wait, not drop.
    client = ZoomClient(connected)
    got = []
    for page in client.prefetch(_pages(6), depth=1):
        got.append(page)
        if page["page"] in (0, 4):
            time.sleep(0.5)
    assert got == [{"page": i} for i in range(6)]


def test_a_consumer_that_stops_early_stops_a_helper_waiting_on_a_full_queue(connected):
    asked_for_page_4 = threading.Event()

    def endless():
        i = 0
        while True:
            if i == 4:
                # Pages 2 and 3 are queued (depth 2): the helper now waits to queue page 4.
                asked_for_page_4.set()
            yield {"page": i}
            i += 1

    client = ZoomClient(connected)
    pages = client.prefetch(endless())
    assert [next(pages), next(pages)] == [{"page": 0}, {"page": 1}]
    assert asked_for_page_4.wait(10)
    pages.close()
    assert not _prefetch_threads()


def test_a_consumer_that_stops_early_stops_a_helper_waiting_to_hand_over_the_end(connected):
    exhausted = threading.Event()

    def two_pages():
        yield {"page": 0}
        yield {"page": 1}
        # Page 1 fills the queue (depth 1): the helper now waits to hand over the end.
        exhausted.set()

    client = ZoomClient(connected)
    pages = client.prefetch(two_pages(), depth=1)
    assert next(pages) == {"page": 0}
    assert exhausted.wait(10)
    pages.close()
    assert not _prefetch_threads()


@responses.activate
def test_prefetch_reads_the_token_before_its_helper_thread_starts(connected):
    # The helper thread cannot see this test's database: the token must already be read.
    responses.get(f"{API}/users", json={"users": [{"id": "a"}], "next_page_token": "T"})
    responses.get(f"{API}/users", json={"users": [{"id": "b"}], "next_page_token": ""})
    with ZoomClient(connected) as client:
        pages = list(client.prefetch(client.users_pages()))
    assert [p["users"][0]["id"] for p in pages] == ["a", "b"]
    assert [c.request.headers["Authorization"] for c in responses.calls] == ["Bearer tok-1"] * 2
