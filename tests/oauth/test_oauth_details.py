"""Details of oauth.py the broader OAuth tests leave open: the lock wait, what the done page and
the staff buttons report, the notes and log lines of the lifecycle, and the scheduled refresh's
counts. Zoom is faked with `responses`; the database is the real one."""

import json
import logging
from types import SimpleNamespace
from urllib.parse import parse_qs

import pytest
import requests
import responses
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tenants.models import Tenant
from tests.factories import TenantFactory
from zoom_integration import oauth
from zoom_integration.capabilities import connection_capabilities_apply
from zoom_integration.exceptions import OAuthFlowError, ZoomAPIError, ZoomTransientError
from zoom_integration.models import ConnectionState, ZoomConnection

from .conftest import ME_URL, REVOKE_URL, TOKEN_URL, connect, me_body, token_body
from .test_flow import CODE, callback, start

pytestmark = pytest.mark.django_db

TABLE = ZoomConnection._meta.db_table


def oauth_messages(caplog, level):
    """The messages oauth.py logged at `level`, formatted as a log handler would."""
    return [r.getMessage() for r in caplog.records
            if r.name == oauth.logger.name and r.levelno == level]


# --- the refresh lock ------------------------------------------------------------------------

@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's lock_timeout")
@responses.activate
@pytest.mark.parametrize("zoom_timeout, lock_ms", [((3.0, 27.0), 65000), (7.5, 20000)])
def test_a_refresher_waits_for_the_lock_twice_zooms_timeouts_plus_slack(
        tenant, settings, zoom_timeout, lock_ms):
    # requests takes a (connect, read) pair or one number for both; either bounds the wait.
    settings.ZOOM_HTTP_TIMEOUT = zoom_timeout
    connect(tenant, expires_in=10)
    responses.add(responses.POST, TOKEN_URL, json=token_body(access="a2", refresh="r2"))
    with CaptureQueriesContext(connection) as captured:
        assert oauth.access_token_get(tenant=tenant) == "a2"
    timeouts = [q["sql"] for q in captured.captured_queries
                if q["sql"].upper().startswith("SET LOCAL LOCK_TIMEOUT")]
    assert timeouts == [f"SET LOCAL lock_timeout = {lock_ms}"]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite has no FOR UPDATE")
@responses.activate
def test_on_sqlite_a_refresher_takes_the_write_lock_before_reading_again(tenant):
    """SQLite (`make run`'s default) ignores FOR UPDATE: a no-op write to the tenant's row takes
    the database write lock, so a second refresher waits instead of spending the token too."""
    connect(tenant, expires_in=10)
    responses.add(responses.POST, TOKEN_URL, json=token_body(access="a2", refresh="r2"))
    with CaptureQueriesContext(connection) as captured:
        assert oauth.access_token_get(tenant=tenant) == "a2"
    sql = [q["sql"] for q in captured.captured_queries if f'"{TABLE}"' in q["sql"]]
    selects = [i for i, s in enumerate(sql) if s.upper().startswith("SELECT")]
    updates = [i for i, s in enumerate(sql) if s.upper().startswith("UPDATE")]
    assert len(selects) == 2 and len(updates) == 2, sql  # the lock, then the rotated pair
    lock = sql[updates[0]]
    assert selects[0] < updates[0] < selects[1] < updates[1]
    assert f'SET "state" = "{TABLE}"."state"' in lock
    assert lock.endswith(f'"tenant_id" = {tenant.pk}')
    assert ZoomConnection.objects.get(tenant=tenant).state == ConnectionState.CONNECTED


# --- what the customer and staff are told ----------------------------------------------------

@responses.activate
def test_zoom_unreachable_tells_the_customer_to_try_again_later(client, tenant):
    state = start(client, tenant)["state"][0]
    responses.add(responses.POST, TOKEN_URL, body=requests.ConnectionError("refused"))
    response = callback(client, tenant, code=CODE, state=state)
    assert response.status_code == 424
    assert ("Zoom could not be reached or did not answer in time, so nothing was connected. "
            "Please try again in a few minutes.") in response.content.decode()


def test_the_current_authorization_is_read_from_the_stored_connection(tenant):
    conn = connect(tenant, account_id="Acct42")
    connection_capabilities_apply(conn, scope="user:read:admin group:read:admin",
                                  keep_refused=False)
    conn.authorized_by_email = "owner@cust.example"
    conn.save()

    result = oauth.authorization_current(tenant=tenant)

    assert result.tenant is tenant
    assert (result.account_id, result.email) == ("Acct42", "owner@cust.example")
    assert result.scopes == ["group:read:admin", "user:read:admin"]
    assert result.scope_kind == "classic"
    assert result.missing_scopes == ["dashboard_meetings:read:admin",
                                     "dashboard_webinars:read:admin"]
    assert result.optional_missing_scopes == ["dashboard_home:read:admin"]
    assert "list past meetings (Dashboard)" in result.missing_capabilities
    assert "list users" not in result.missing_capabilities


@responses.activate
def test_connection_test_reports_who_authorized(connected):
    responses.add(responses.GET, ME_URL, json=me_body())
    assert oauth.connection_test(tenant=connected) == {
        "account_id": "Aq7Zp1", "email": "admin@cust.example", "user_id": "Uu8Xk2",
        "role_name": "Owner", "account_matches": True}


@responses.activate
def test_connection_test_leaves_blank_what_zoom_did_not_say(connected):
    responses.add(responses.GET, ME_URL, json={"account_id": "Other1"})
    assert oauth.connection_test(tenant=connected) == {
        "account_id": "Other1", "email": "", "user_id": "", "role_name": "",
        "account_matches": False}


# --- deauthorization -------------------------------------------------------------------------

def test_the_deauthorization_note_says_when_the_app_was_removed(connected):
    oauth.connection_deauthorize(tenant=connected, payload={
        "account_id": "Aq7Zp1", "deauthorization_time": "2026-11-29T10:00:00Z"})
    conn = ZoomConnection.objects.get(tenant=connected)
    assert conn.last_error == "The app was removed in Zoom at 2026-11-29T10:00:00Z."
    assert conn.last_error_at is not None


def test_a_deauthorization_without_account_or_time_still_ends_the_connection(connected):
    # Zoom names the account; an event without one is still for this tenant's app.
    oauth.connection_deauthorize(tenant=connected, payload={})
    conn = ZoomConnection.objects.get(tenant=connected)
    assert conn.state == ConnectionState.DEAUTHORIZED and conn.refresh_token == ""
    assert conn.last_error == "The app was removed in Zoom."


def test_an_overlong_deauthorization_time_is_cut_in_the_note(connected):
    when = "2026-11-29T10:00:00Z" + "9" * 60
    oauth.connection_deauthorize(tenant=connected, payload={"deauthorization_time": when})
    note = ZoomConnection.objects.get(tenant=connected).last_error
    assert note == f"The app was removed in Zoom at {when[:40]}."


def test_deauthorization_logs_say_what_happened_to_which_tenant(connected, caplog):
    caplog.set_level(logging.INFO, logger=oauth.logger.name)
    oauth.connection_deauthorize(tenant=connected, payload={"account_id": "SOMEONE_ELSE"})
    assert oauth_messages(caplog, logging.WARNING) == [
        f"app_deauthorized for tenant {connected.slug} names another Zoom account; ignored"]

    oauth.connection_deauthorize(tenant=connected, payload={"account_id": "Aq7Zp1"})
    assert oauth_messages(caplog, logging.INFO) == [
        f"Tenant {connected.slug} deauthorized the Zoom app"]


@pytest.fixture
def frozen_now(monkeypatch) -> float:
    """oauth.py's clock stopped at one instant (its own `time` only), which is returned."""
    now = 1_800_000_000.0
    monkeypatch.setattr(oauth, "time", SimpleNamespace(time=lambda: now))
    return now


# --- the start of the flow --------------------------------------------------------------------

def test_a_start_drops_stashed_states_at_exactly_their_lifetime(tenant, frozen_now):
    now = frozen_now
    session = {oauth.SESSION_KEY: {
        "just-expired": {"tenant_id": tenant.pk, "verifier": "v", "issued_at": now - 600},
        "still-good": {"tenant_id": tenant.pk, "verifier": "v", "issued_at": now - 599},
        "no-issue-time": {"tenant_id": tenant.pk, "verifier": "v"},  # unreadable: dropped
    }}
    oauth.authorization_start(tenant=tenant, session=session)
    kept = set(session[oauth.SESSION_KEY]) - {"just-expired", "no-issue-time"}
    assert "still-good" in kept and len(kept) == 2
    assert "just-expired" not in session[oauth.SESSION_KEY]
    assert "no-issue-time" not in session[oauth.SESSION_KEY]


@pytest.mark.parametrize("age, issued", [(600, True), (599, True), (None, False)],
                         ids=["exactly its lifetime", "a second younger", "no issue time"])
def test_a_callback_state_expires_at_exactly_its_lifetime(tenant, frozen_now, age, issued):
    now = frozen_now
    entry = {"tenant_id": tenant.pk, "verifier": "v"}
    if issued:
        entry["issued_at"] = now - age
    session = {oauth.SESSION_KEY: {"the-state": entry}}
    if age == 599:
        assert oauth._state_pop(tenant=tenant, session=session, state="the-state") == entry
    else:  # an entry without its issue time is as good as expired, never a server error
        with pytest.raises(OAuthFlowError, match="has expired"):
            oauth._state_pop(tenant=tenant, session=session, state="the-state")
    assert session[oauth.SESSION_KEY] == {}  # single use either way


def test_a_start_keeps_the_newest_states_not_the_first_by_name(tenant, frozen_now):
    now = frozen_now
    # Names in the opposite order to their age: "a" is the newest, "e" the oldest.
    session = {oauth.SESSION_KEY: {
        name: {"tenant_id": tenant.pk, "verifier": "v", "issued_at": now - 10 * (age + 1)}
        for age, name in enumerate("abcde")}}
    oauth.authorization_start(tenant=tenant, session=session)
    kept = set(session[oauth.SESSION_KEY])
    assert len(kept) == oauth.MAX_PENDING_STATES
    assert kept >= {"a", "b", "c", "d"} and "e" not in kept


def test_the_state_and_pkce_verifier_carry_their_full_randomness(tenant):
    session = {}
    oauth.authorization_start(tenant=tenant, session=session)
    [(state, entry)] = session[oauth.SESSION_KEY].items()
    # 32 random bytes for the state, 48 for the verifier (RFC 7636 allows 43-128 characters).
    assert (len(state), len(entry["verifier"])) == (43, 64)


def test_the_start_is_logged_with_the_tenant(tenant, caplog):
    caplog.set_level(logging.INFO, logger=oauth.logger.name)
    oauth.authorization_start(tenant=tenant, session={})
    assert oauth_messages(caplog, logging.INFO) == [f"OAuth start for tenant {tenant.slug}"]


# --- revoke and forget -----------------------------------------------------------------------

@responses.activate
def test_zoom_refusing_the_revocation_is_raised_after_clearing_locally(connected):
    responses.add(responses.POST, REVOKE_URL, status=400,
                  json={"reason": "Invalid token", "error": "invalid_request"})
    with pytest.raises(ZoomAPIError) as info:
        oauth.connection_revoke(tenant=connected)
    assert not isinstance(info.value, ZoomTransientError)
    assert str(info.value) == "Zoom refused the revocation: HTTP 400 invalid_request"
    assert info.value.status == 400
    conn = ZoomConnection.objects.get(tenant=connected)
    assert conn.state == ConnectionState.NOT_CONNECTED and conn.access_token == ""
    # When staff ended it is shown on health and the checklist ("Revoked by staff on ...").
    assert conn.last_error == oauth.REVOKED_BY_STAFF and conn.last_error_at is not None


@responses.activate
def test_a_revocation_refused_without_a_reason_says_only_the_status(connected):
    responses.add(responses.POST, REVOKE_URL, status=400, body="")
    with pytest.raises(ZoomAPIError) as info:
        oauth.connection_revoke(tenant=connected)
    assert str(info.value) == "Zoom refused the revocation: HTTP 400"


@responses.activate
def test_revoking_a_tenant_without_tokens_calls_nobody(connected):
    oauth.connection_deauthorize(tenant=connected, payload={"account_id": "Aq7Zp1"})
    oauth.connection_revoke(tenant=connected)  # no registered URL: any call would fail
    assert len(responses.calls) == 0
    assert ZoomConnection.objects.get(tenant=connected).state == ConnectionState.NOT_CONNECTED


@responses.activate
def test_revoking_without_any_access_token_when_the_refresh_fails_calls_only_the_token_endpoint(
        connected):
    ZoomConnection.objects.filter(tenant=connected).update(access_token="",
                                                            access_token_expires_at=None)
    responses.add(responses.POST, TOKEN_URL, status=503)
    with pytest.raises(ZoomTransientError):
        oauth.connection_revoke(tenant=connected)
    assert [call.request.url for call in responses.calls] == [TOKEN_URL]  # nothing to revoke
    conn = ZoomConnection.objects.get(tenant=connected)
    assert (conn.state, conn.refresh_token) == (ConnectionState.NOT_CONNECTED, "")


@responses.activate
def test_revoke_ends_the_token_stored_under_the_lock(connected, monkeypatch):
    """Another worker may rotate the token between the read and the lock: the newest one, the
    one Zoom still honours, is the one revoked."""
    responses.add(responses.POST, REVOKE_URL, json={"status": "success"})
    real_access_token_get = oauth.access_token_get

    def rotated_meanwhile(**kwargs):
        token = real_access_token_get(**kwargs)
        ZoomConnection.objects.filter(tenant=connected).update(access_token="access-rotated")
        return token

    monkeypatch.setattr(oauth, "access_token_get", rotated_meanwhile)
    oauth.connection_revoke(tenant=connected)
    (call,) = responses.calls
    assert parse_qs(call.request.body) == {"token": ["access-rotated"]}


@responses.activate
def test_revoke_and_forget_log_what_happened_to_which_tenant(connected, caplog):
    caplog.set_level(logging.INFO, logger=oauth.logger.name)
    responses.add(responses.POST, REVOKE_URL, json={"status": "success"})
    oauth.connection_forget(tenant=connected)
    assert oauth_messages(caplog, logging.INFO) == [
        f"Tenant {connected.slug}: Zoom tokens revoked and cleared",
        f"Tenant {connected.slug}: Zoom account forgotten"]


@responses.activate
def test_forget_writes_only_the_account_of_a_tenant_edited_meanwhile(connected):
    stale = Tenant.objects.get(pk=connected.pk)  # e.g. an admin action's queryset
    Tenant.objects.filter(pk=connected.pk).update(name="Renamed by other staff")
    responses.add(responses.POST, REVOKE_URL, json={"status": "success"})
    oauth.connection_forget(tenant=stale)
    connected.refresh_from_db()
    assert (connected.zoom_account_id, connected.name) == ("", "Renamed by other staff")


# --- the scheduled refresh -------------------------------------------------------------------

@responses.activate
def test_the_scheduled_refresh_counts_every_outcome(tenant, caplog):
    caplog.set_level(logging.WARNING, logger=oauth.logger.name)
    answers = {
        "ok-1": (200, token_body()), "ok-2": (200, token_body()),
        "dead-1": (400, {"error": "invalid_grant"}), "dead-2": (400, {"error": "invalid_grant"}),
        "busy": (503, {}), "bad-client": (400, {"error": "invalid_client"}),
    }
    tenants = {}
    for refresh in answers:
        tenants[refresh] = TenantFactory()
        connect(tenants[refresh], expires_in=60, refresh=refresh)
    # Not connected any more: nothing to refresh, and not counted, whatever its stale expiry.
    connect(tenant, expires_in=60, refresh="ended", state=ConnectionState.NEEDS_REAUTH)

    def answer(request):
        status, body = answers[parse_qs(request.body)["refresh_token"][0]]
        return status, {}, json.dumps(body)

    responses.add_callback(responses.POST, TOKEN_URL, callback=answer)
    assert oauth.tokens_refresh_due(within_seconds=600) == {
        "refreshed": 2, "reauth": 2, "failed": 2}
    assert len(responses.calls) == 6

    warnings = [m for m in oauth_messages(caplog, logging.WARNING)
                if m.startswith("Scheduled refresh")]
    assert len(warnings) == 2
    busy, bad_client = (tenants["busy"].slug, tenants["bad-client"].slug)
    assert any(busy in m and "HTTP 503" in m for m in warnings), warnings
    assert any(bad_client in m and "invalid_client" in m for m in warnings), warnings
