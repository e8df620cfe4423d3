"""ZoomClient rules, against `responses` (only Zoom is faked)."""

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from zoom_integration.client import ZoomClient, encode_uuid, parse_retry_after
from zoom_integration.exceptions import (
    ZoomAuthError,
    ZoomDashboardUnavailableError,
    ZoomNotFoundError,
    ZoomRateLimitedError,
    ZoomTransientError,
)

from .conftest import API

pytestmark = pytest.mark.django_db


def _query(call) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


@responses.activate
def test_users_pages_use_300_and_follow_next_page_token(connected):
    responses.get(f"{API}/users", json={"users": [{"id": "a"}], "next_page_token": "T2",
                                        "total_records": 2})
    responses.get(f"{API}/users", json={"users": [{"id": "b"}], "next_page_token": ""})
    with ZoomClient(connected) as client:
        pages = list(client.users_pages(status="inactive"))
    assert [p["users"][0]["id"] for p in pages] == ["a", "b"]
    first, second = (_query(c) for c in responses.calls)
    assert first == {"page_size": "300", "status": "inactive"}
    assert second == {"page_size": "300", "status": "inactive", "next_page_token": "T2"}
    assert responses.calls[0].request.headers["Authorization"] == "Bearer tok-1"


@responses.activate
def test_group_members_use_300(connected):
    responses.get(f"{API}/groups/G1/members", json={"members": [], "next_page_token": ""})
    with ZoomClient(connected) as client:
        list(client.group_members_pages("G1"))
    assert _query(responses.calls[0])["page_size"] == "300"


@responses.activate
def test_dashboard_calls_are_type_past_with_their_page_sizes(connected):
    responses.get(f"{API}/metrics/webinars/abc%3D%3D", json={"uuid": "abc=="})
    responses.get(f"{API}/metrics/webinars/abc%3D%3D/participants",
                  json={"participants": [], "next_page_token": ""})
    responses.get(f"{API}/metrics/webinars/abc%3D%3D/participants/qos",
                  json={"participants": [], "next_page_token": ""})
    with ZoomClient(connected) as client:
        client.dashboard_detail("webinar", "abc==")
        list(client.dashboard_participants_pages("webinar", "abc=="))
        list(client.dashboard_qos_pages("webinar", "abc=="))
    detail, participants, qos = (_query(c) for c in responses.calls)
    assert detail == {"type": "past"}
    # registrant_id groups a registrant's join sessions; Zoom sends it only when asked.
    assert participants == {"type": "past", "page_size": "300",
                            "include_fields": "registrant_id"}
    assert qos == {"type": "past", "page_size": "10"}


@pytest.mark.parametrize(("uuid", "encoded"), [
    ("qW3+kL0Zx9==", "qW3%2BkL0Zx9%3D%3D"),          # ordinary: encoded once
    ("/ajXp112QmuoKj4854875==", "%252FajXp112QmuoKj4854875%253D%253D"),  # leading "/"
    ("ab//cd==", "ab%252F%252Fcd%253D%253D"),        # "//" inside
    ("ab/cd", "ab%2Fcd"),                            # a single inner "/" is encoded once
])
def test_uuid_encoding(uuid, encoded):
    assert encode_uuid(uuid) == encoded


@responses.activate
def test_double_encoded_uuid_reaches_zoom_in_the_path(connected):
    responses.get(f"{API}/metrics/meetings/%252Fab%252F%252Fc%253D%253D", json={"uuid": "x"})
    with ZoomClient(connected) as client:
        client.dashboard_detail("meeting", "/ab//c==")
    assert "/metrics/meetings/%252Fab%252F%252Fc%253D%253D?" in responses.calls[0].request.url


@responses.activate
def test_qps_429_with_seconds_then_success(connected, settings):
    responses.get(f"{API}/groups", status=429, headers={
        "Retry-After": "0", "X-RateLimit-Type": "QPS", "X-RateLimit-Category": "Medium"},
        json={"code": 429, "message": "You have reached the maximum per-second rate limit"})
    responses.get(f"{API}/groups", json={"groups": [{"id": "G1"}]})
    with ZoomClient(connected) as client:
        assert client.groups_list() == [{"id": "G1"}]
    assert len(responses.calls) == 2


@responses.activate
def test_qps_429_longer_than_allowed_wait_raises_with_its_seconds(connected, settings):
    settings.ZOOM_QPS_MAX_WAIT_SECONDS = 1
    responses.get(f"{API}/groups", status=429, headers={"Retry-After": "7",
                                                       "X-RateLimit-Type": "QPS"},
                  json={"code": 429, "message": "per-second"})
    with ZoomClient(connected) as client, pytest.raises(ZoomRateLimitedError) as err:
        client.groups_list()
    assert err.value.daily is False
    assert err.value.retry_after_seconds == 7
    assert len(responses.calls) == 1


@responses.activate
def test_daily_429_with_a_date_raises_and_parks_the_category(connected):
    reset = (datetime.now(UTC) + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    responses.get(f"{API}/metrics/meetings/m1", status=429, headers={
        "Retry-After": reset, "X-RateLimit-Type": "Daily-limit",
        "X-RateLimit-Category": "Heavy"},
        json={"code": 429, "message": "You have reached the maximum daily rate limit"})
    with ZoomClient(connected) as client:
        with pytest.raises(ZoomRateLimitedError) as err:
            client.dashboard_detail("meeting", "m1")
        assert err.value.daily is True
        assert 3 * 3600 - 60 < err.value.retry_after_seconds <= 3 * 3600
        # Parked: the next Heavy call is refused without reaching Zoom.
        with pytest.raises(ZoomRateLimitedError) as again:
            client.dashboard_detail("meeting", "m1")
        assert again.value.daily is True
    assert len(responses.calls) == 1


@responses.activate
def test_daily_429_without_headers_is_read_from_the_message(connected):
    responses.get(f"{API}/users", status=429, json={
        "code": 429, "message": "You have reached the maximum daily rate limit for this API."})
    with ZoomClient(connected) as client, pytest.raises(ZoomRateLimitedError) as err:
        list(client.users_pages())
    assert err.value.daily is True
    assert 0 < err.value.retry_after_seconds <= 86400


def test_parse_retry_after_forms():
    now = datetime(2026, 5, 29, 23, 0, tzinfo=UTC)
    assert parse_retry_after("12", now=now) == 12
    assert parse_retry_after("2026-05-30T00:00:00Z", now=now) == 3600
    assert parse_retry_after("Sat, 30 May 2026 00:00:00 GMT", now=now) == 3600
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after("", now=now) is None


@responses.activate
def test_5xx_is_retried_then_succeeds(connected):
    responses.get(f"{API}/groups", status=502)
    responses.get(f"{API}/groups", status=503)
    responses.get(f"{API}/groups", json={"groups": []})
    with ZoomClient(connected) as client:
        assert client.groups_list() == []
    assert len(responses.calls) == 3


@responses.activate
def test_5xx_retries_are_bounded(connected, settings):
    settings.ZOOM_HTTP_MAX_RETRIES = 2
    responses.get(f"{API}/groups", status=500)
    with ZoomClient(connected) as client, pytest.raises(ZoomTransientError):
        client.groups_list()
    assert len(responses.calls) == 3


@responses.activate
def test_connection_errors_are_retried_and_bounded(connected, settings):
    import requests

    settings.ZOOM_HTTP_MAX_RETRIES = 1
    responses.get(f"{API}/groups", body=requests.ConnectionError("refused"))
    with ZoomClient(connected) as client, pytest.raises(ZoomTransientError):
        client.groups_list()
    assert len(responses.calls) == 2


@responses.activate
def test_401_code_124_refreshes_once_and_retries(connected, settings):
    responses.get(f"{API}/groups", status=401,
                  json={"code": 124, "message": "Access token is expired."})
    responses.get(f"{API}/groups", json={"groups": [{"id": "G"}]})
    responses.post(f"{settings.ZOOM_OAUTH_BASE_URL}/oauth/token", json={
        "access_token": "tok-2", "refresh_token": "ref-2", "expires_in": 3599,
        "token_type": "bearer", "scope": "user:read:admin"})
    with ZoomClient(connected) as client:
        assert client.groups_list() == [{"id": "G"}]
    api_calls = [c for c in responses.calls if "/v2/" in c.request.url]
    assert [c.request.headers["Authorization"] for c in api_calls] == [
        "Bearer tok-1", "Bearer tok-2"]
    token_call = [c for c in responses.calls if c.request.url.endswith("/oauth/token")]
    assert len(token_call) == 1
    assert parse_qs(token_call[0].request.body)["refresh_token"] == ["ref-1"]


@responses.activate
@pytest.mark.parametrize("code", [124, "124"])  # a code sent as text still refreshes once
def test_401_twice_raises_auth_error(connected, settings, code):
    responses.get(f"{API}/groups", status=401, json={"code": code, "message": "Invalid token"})
    responses.post(f"{settings.ZOOM_OAUTH_BASE_URL}/oauth/token", json={
        "access_token": "tok-2", "refresh_token": "ref-2", "expires_in": 3599,
        "token_type": "bearer", "scope": "user:read:admin"})
    with ZoomClient(connected) as client, pytest.raises(ZoomAuthError):
        client.groups_list()
    assert len([c for c in responses.calls if "/v2/" in c.request.url]) == 2


@responses.activate
def test_plan_without_dashboard_is_a_typed_error_without_retry(connected):
    responses.get(f"{API}/metrics/meetings/m1", status=400, json={
        "code": 200, "message": "Only available for paid account and enabled Dashboard feature"})
    with ZoomClient(connected) as client, pytest.raises(ZoomDashboardUnavailableError):
        client.dashboard_detail("meeting", "m1")
    assert len(responses.calls) == 1


@pytest.mark.parametrize(("status", "body"), [
    (404, {"code": 3001, "message": "Meeting does not exist"}),
    (400, {"code": 3001, "message": "Meeting ID is invalid or not end."}),
    (404, None),
])
@responses.activate
def test_not_found_and_3001(connected, status, body):
    responses.get(f"{API}/metrics/meetings/m1", status=status,
                  body=json.dumps(body) if body else "")
    with ZoomClient(connected) as client, pytest.raises(ZoomNotFoundError):
        client.dashboard_detail("meeting", "m1")


@responses.activate
def test_calls_are_counted_per_day_and_category(connected):
    from zoom_integration.models import ApiUsage
    from zoom_integration.ratelimit import api_usage_flush

    responses.get(f"{API}/groups", json={"groups": []})
    responses.get(f"{API}/metrics/meetings/m1", json={})
    with ZoomClient(connected) as client:
        client.groups_list()
        client.groups_list()
        client.dashboard_detail("meeting", "m1")
    # The client writes no model: the counts wait in the limiter until a service flushes them.
    assert not ApiUsage.objects.filter(tenant=connected).exists()
    api_usage_flush(tenant=connected)
    usage = {u.category: u.calls for u in ApiUsage.objects.filter(tenant=connected)}
    assert usage == {"Medium": 2, "Heavy": 1}
