"""access_token_get, refresh and the connection lifecycle, against `responses`."""

import base64
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import requests
import responses
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tests.factories import TenantFactory
from zoom_integration import oauth
from zoom_integration.exceptions import (
    ReauthorizationRequiredError,
    ZoomAPIError,
    ZoomTransientError,
)
from zoom_integration.models import ConnectionState, ZoomConnection
from zoom_integration.tasks.oauth import tokens_refresh_due_task

from .conftest import ME_URL, REVOKE_URL, TOKEN_URL, connect, me_body, token_body

pytestmark = pytest.mark.django_db


def refresh_calls():
    return [c for c in responses.calls
            if c.request.url == TOKEN_URL and "grant_type=refresh_token" in c.request.body]


@responses.activate
def test_a_fresh_token_is_returned_without_calling_zoom(connected):
    assert oauth.access_token_get(tenant=connected) == "access-old"
    assert len(responses.calls) == 0


@responses.activate
def test_a_token_near_expiry_is_refreshed_and_the_rotated_pair_stored(tenant):
    connect(tenant, expires_in=oauth.REFRESH_MARGIN_SECONDS - 10)
    responses.add(responses.POST, TOKEN_URL, json=token_body(access="a2", refresh="r2"))

    assert oauth.access_token_get(tenant=tenant) == "a2"

    (call,) = refresh_calls()
    basic = base64.b64encode(f"{tenant.client_id}:{tenant.client_secret}".encode()).decode()
    assert call.request.headers["Authorization"] == f"Basic {basic}"
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(call.request.body) == {"grant_type": ["refresh_token"],
                                           "refresh_token": ["refresh-old"]}
    assert call.request.req_kwargs["timeout"] == settings.ZOOM_HTTP_TIMEOUT
    conn = ZoomConnection.objects.get(tenant=tenant)
    assert (conn.access_token, conn.refresh_token) == ("a2", "r2")
    assert conn.access_token_expires_at > timezone.now() + timedelta(seconds=3500)
    assert conn.last_refreshed_at is not None
    # The next refresh must send the *new* refresh token (Zoom rotates refresh tokens:
    # docs/zoom.md, "Rotating refresh tokens").
    responses.add(responses.POST, TOKEN_URL, json=token_body(access="a3", refresh="r3"))
    assert oauth.access_token_get(tenant=tenant, rejected_token="a2") == "a3"
    assert parse_qs(refresh_calls()[1].request.body)["refresh_token"] == ["r2"]


@responses.activate
def test_a_rejected_token_triggers_one_refresh(connected):
    responses.add(responses.POST, TOKEN_URL, json=token_body(access="a2", refresh="r2"))
    assert oauth.access_token_get(tenant=connected, rejected_token="access-old") == "a2"
    # A caller holding the *old* token learns the new one without another refresh.
    assert oauth.access_token_get(tenant=connected, rejected_token="access-old") == "a2"
    assert len(refresh_calls()) == 1


@responses.activate
def test_invalid_grant_marks_needs_reauth_and_stops(connected):
    responses.add(responses.POST, TOKEN_URL, status=400,
                  json={"reason": "Invalid Token!", "error": "invalid_grant"})
    with pytest.raises(ReauthorizationRequiredError):
        oauth.access_token_get(tenant=connected, rejected_token="access-old")
    conn = ZoomConnection.objects.get(tenant=connected)
    assert conn.state == ConnectionState.NEEDS_REAUTH
    assert conn.access_token == conn.refresh_token == ""
    assert "invalid_grant" in conn.last_error and conn.last_error_at
    # No retry loop with a dead token: later callers fail fast, without calling Zoom.
    with pytest.raises(ReauthorizationRequiredError):
        oauth.access_token_get(tenant=connected)
    assert len(responses.calls) == 1


@responses.activate
@pytest.mark.parametrize("failure", [requests.ReadTimeout("slow"),
                                     requests.ConnectionError("refused"), 502, 429])
def test_transient_failures_keep_the_tokens(connected, failure):
    if isinstance(failure, int):
        responses.add(responses.POST, TOKEN_URL, status=failure, body="")
    else:
        responses.add(responses.POST, TOKEN_URL, body=failure)
    with pytest.raises(ZoomTransientError):
        oauth.access_token_get(tenant=connected, rejected_token="access-old")
    conn = ZoomConnection.objects.get(tenant=connected)
    assert conn.state == ConnectionState.CONNECTED
    assert (conn.access_token, conn.refresh_token) == ("access-old", "refresh-old")
    assert conn.last_error.startswith("Token refresh failed")


@responses.activate
def test_invalid_client_is_recorded_without_forcing_reauthorization(connected):
    responses.add(responses.POST, TOKEN_URL, status=400,
                  json={"reason": "Invalid client_id or client_secret", "error": "invalid_client"})
    with pytest.raises(ZoomAPIError) as info:
        oauth.access_token_get(tenant=connected, rejected_token="access-old")
    assert not isinstance(info.value, ZoomTransientError)
    conn = ZoomConnection.objects.get(tenant=connected)
    assert conn.state == ConnectionState.CONNECTED and conn.refresh_token == "refresh-old"
    assert "invalid_client" in conn.last_error


@responses.activate
def test_a_200_without_tokens_is_an_error_not_a_blank_token(connected):
    responses.add(responses.POST, TOKEN_URL, json={"access_token": "a2"})
    with pytest.raises(ZoomAPIError):
        oauth.access_token_get(tenant=connected, rejected_token="access-old")
    assert ZoomConnection.objects.get(tenant=connected).refresh_token == "refresh-old"


@pytest.mark.parametrize("state", [ConnectionState.NOT_CONNECTED, ConnectionState.DEAUTHORIZED,
                                   ConnectionState.NEEDS_REAUTH])
def test_unusable_connections_need_reauthorization(tenant, state):
    connect(tenant, state=state)
    with pytest.raises(ReauthorizationRequiredError) as err:
        oauth.access_token_get(tenant=tenant)
    # The text staff see on a failed task: which tenant, and the connection's state by name.
    assert str(err.value) == (f"Tenant {tenant.slug} has no usable Zoom authorization "
                              f"({state.label}).")


def test_a_tenant_never_connected_needs_authorization(tenant):
    with pytest.raises(ReauthorizationRequiredError) as err:
        oauth.access_token_get(tenant=tenant)
    assert str(err.value) == (f"Tenant {tenant.slug} has no usable Zoom authorization "
                              "(Not connected).")


@responses.activate
@pytest.mark.parametrize(("left", "refreshed"), [(oauth.REFRESH_MARGIN_SECONDS, True),
                                                 (oauth.REFRESH_MARGIN_SECONDS + 1, False)])
def test_a_token_is_refreshed_from_exactly_the_margin_before_expiry(
        tenant, monkeypatch, left, refreshed):
    now = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: now)
    connect(tenant, expires_in=left)
    responses.add(responses.POST, TOKEN_URL, json=token_body(access="a2", refresh="r2"))
    assert oauth.access_token_get(tenant=tenant) == ("a2" if refreshed else "access-old")
    assert len(refresh_calls()) == int(refreshed)


@responses.activate
def test_a_connection_without_an_access_token_is_refreshed_whatever_its_expiry(tenant):
    connect(tenant, access="", expires_in=3000)
    responses.add(responses.POST, TOKEN_URL, json=token_body(access="a2", refresh="r2"))
    assert oauth.access_token_get(tenant=tenant) == "a2"


@responses.activate
def test_refresh_inside_a_callers_transaction_is_refused(connected):
    """The rotated pair must commit at once; a caller's rollback would lose it (only the newest
    refresh token works: docs/zoom.md, "Rotating refresh tokens")."""
    with pytest.raises(RuntimeError), transaction.atomic():
        oauth.access_token_get(tenant=connected, rejected_token="access-old")
    assert len(responses.calls) == 0


def test_deauthorize_clears_tokens(connected):
    oauth.connection_deauthorize(tenant=connected, payload={
        "account_id": "Aq7Zp1", "deauthorization_time": "2026-11-29T10:00:00Z"})
    conn = ZoomConnection.objects.get(tenant=connected)
    assert conn.state == ConnectionState.DEAUTHORIZED
    assert conn.access_token == conn.refresh_token == "" and conn.access_token_expires_at is None
    with pytest.raises(ReauthorizationRequiredError):
        oauth.access_token_get(tenant=connected)


def test_deauthorize_for_another_account_is_ignored(connected):
    oauth.connection_deauthorize(tenant=connected, payload={"account_id": "SOMEONE_ELSE"})
    assert ZoomConnection.objects.get(tenant=connected).state == ConnectionState.CONNECTED


@responses.activate
def test_connection_test_calls_users_me_and_retries_once_after_124(connected):
    responses.add(responses.GET, ME_URL, status=401,
                  json={"code": 124, "message": "Access token is expired."})
    responses.add(responses.POST, TOKEN_URL, json=token_body(access="a2", refresh="r2"))
    responses.add(responses.GET, ME_URL, json=me_body())
    result = oauth.connection_test(tenant=connected)
    assert result["account_id"] == "Aq7Zp1" and result["account_matches"] is True
    me_calls = [c for c in responses.calls if c.request.url == ME_URL]
    assert [c.request.headers["Authorization"] for c in me_calls] == [
        "Bearer access-old", "Bearer a2"]


@responses.activate
def test_revoke_calls_zoom_then_clears_tokens(connected):
    responses.add(responses.POST, REVOKE_URL, json={"status": "success"})
    oauth.connection_revoke(tenant=connected)
    (call,) = responses.calls
    assert parse_qs(call.request.body) == {"token": ["access-old"]}
    assert call.request.headers["Authorization"].startswith("Basic ")
    conn = ZoomConnection.objects.get(tenant=connected)
    assert conn.state == ConnectionState.NOT_CONNECTED and conn.refresh_token == ""


@responses.activate
def test_revoke_clears_locally_even_when_zoom_is_down(connected):
    responses.add(responses.POST, REVOKE_URL, body=requests.ConnectTimeout("down"))
    with pytest.raises(ZoomTransientError):
        oauth.connection_revoke(tenant=connected)
    assert ZoomConnection.objects.get(tenant=connected).refresh_token == ""


@responses.activate
def test_scheduled_refresh_touches_only_tokens_nearing_expiry(tenant):
    due = tenant
    connect(due, expires_in=600, access="due-a", refresh="due-r")
    fine = TenantFactory()
    connect(fine, expires_in=3000, access="fine-a", refresh="fine-r")
    dead = TenantFactory()
    connect(dead, expires_in=10, access="dead-a", refresh="dead-r")
    inactive = TenantFactory(is_active=False)
    connect(inactive, expires_in=10)

    def answer(request):
        body = parse_qs(request.body)
        if body["refresh_token"] == ["dead-r"]:
            return 400, {}, '{"reason": "Invalid Token!", "error": "invalid_grant"}'
        return 200, {}, '{"access_token": "n", "refresh_token": "m", "expires_in": 3599}'

    responses.add_callback(responses.POST, TOKEN_URL, callback=answer)
    counts = tokens_refresh_due_task.delay(within_seconds=900).get()
    assert counts == {"refreshed": 1, "reauth": 1, "failed": 0}
    assert sorted(parse_qs(c.request.body)["refresh_token"][0] for c in responses.calls) == [
        "dead-r", "due-r"]
    assert ZoomConnection.objects.get(tenant=fine).access_token == "fine-a"
    assert ZoomConnection.objects.get(tenant=dead).state == ConnectionState.NEEDS_REAUTH


@responses.activate
@pytest.mark.parametrize("token_failure", [503, 401])
def test_revoke_clears_locally_when_no_fresh_token_can_be_had(tenant, token_failure):
    # The access token is due for refresh and Zoom's token endpoint is down (or refuses the
    # app's credentials): the stored token is still revoked and the tokens cleared here.
    connect(tenant, expires_in=10)
    responses.add(responses.POST, TOKEN_URL, status=token_failure,
                  json={"reason": "Invalid client_id or client_secret", "error": "invalid_client"})
    responses.add(responses.POST, REVOKE_URL, json={"status": "success"})
    with pytest.raises(ZoomAPIError):
        oauth.connection_revoke(tenant=tenant)
    revoked = [c for c in responses.calls if c.request.url == REVOKE_URL]
    assert [parse_qs(c.request.body)["token"] for c in revoked] == [["access-old"]]
    conn = ZoomConnection.objects.get(tenant=tenant)
    assert conn.state == ConnectionState.NOT_CONNECTED
    assert (conn.access_token, conn.refresh_token) == ("", "")
