"""The browser flow: /adminapi/zoom/oauth/start and the authorize callback, against `responses`."""

import base64
import hashlib
import logging
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
import responses
from django.conf import settings
from django.db import connection as db

from nectar_portal.log_filters import RedactSensitiveQueryFilter
from tests.factories import TenantFactory
from zoom_integration import oauth
from zoom_integration.models import ConnectionState, ZoomConnection

from .conftest import ME_URL, REVOKE_URL, TOKEN_URL, connect, me_body, token_body

pytestmark = pytest.mark.django_db

CODE = "authcode-Secret-1234567890"


def host(tenant):
    return f"{tenant.slug}.portal.test"


def redirect_uri(tenant):
    return f"https://{host(tenant)}/adminapi/zoom/oauth/authorize"


def start(client, tenant):
    response = client.get("/adminapi/zoom/oauth/start", HTTP_HOST=host(tenant), secure=True)
    assert response.status_code == 302
    return parse_qs(urlsplit(response["Location"]).query)


def callback(client, tenant, **params):
    return client.get("/adminapi/zoom/oauth/authorize?" + urlencode(params),
                      HTTP_HOST=host(tenant), secure=True)


DONE = "/adminapi/zoom/oauth/done"


def done_page(client, tenant):
    return client.get(DONE, HTTP_HOST=host(tenant), secure=True)


def connected_redirect(response):
    """A successful callback answers with a redirect to the stable done page."""
    return response.status_code == 302 and response["Location"] == DONE


def zoom_answers(token=None, me=None, token_status=200, me_status=200):
    responses.add(responses.POST, TOKEN_URL, json=token or token_body(), status=token_status)
    responses.add(responses.GET, ME_URL, json=me or me_body(), status=me_status)


def token_calls():
    return [c for c in responses.calls if c.request.url == TOKEN_URL]


# --- start ----------------------------------------------------------------------------------

def test_start_redirects_to_zoom_with_pkce_and_an_opaque_state(client, tenant):
    response = client.get("/adminapi/zoom/oauth/start", HTTP_HOST=host(tenant), secure=True)
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        "https://zoom.us/oauth/authorize")
    query = parse_qs(location.query)
    assert {k: v[0] for k, v in query.items() if k not in ("state", "code_challenge")} == {
        "response_type": "code", "client_id": tenant.client_id,
        "redirect_uri": redirect_uri(tenant), "code_challenge_method": "S256"}
    state = query["state"][0]
    assert len(base64.urlsafe_b64decode(state + "==")) * 8 >= 128
    assert str(tenant.pk) not in state.split("-")  # opaque: nothing readable in it
    stash = client.session[oauth.SESSION_KEY][state]
    assert stash["tenant_id"] == tenant.pk
    digest = hashlib.sha256(stash["verifier"].encode()).digest()
    assert query["code_challenge"][0] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert response["Cache-Control"].startswith("max-age=0")


def test_each_start_gets_a_new_state_and_the_session_keeps_only_a_few(client, tenant):
    states = [start(client, tenant)["state"][0] for _ in range(oauth.MAX_PENDING_STATES + 2)]
    assert len(set(states)) == len(states)
    assert set(client.session[oauth.SESSION_KEY]) == set(states[-oauth.MAX_PENDING_STATES:])


def test_start_without_client_secret_is_a_409_page(client, tenant):
    tenant.client_secret = ""
    tenant.save()
    response = client.get("/adminapi/zoom/oauth/start", HTTP_HOST=host(tenant), secure=True)
    assert response.status_code == 409
    assert b"not fully set up" in response.content


def test_start_on_an_unknown_host_is_404(client, tenant):
    response = client.get("/adminapi/zoom/oauth/start", HTTP_HOST="nobody.portal.test")
    assert response.status_code == 404


# --- callback, happy paths ------------------------------------------------------------------

@responses.activate
def test_callback_with_state_exchanges_the_code_and_connects(client, tenant):
    params = start(client, tenant)
    state = params["state"][0]
    verifier = client.session[oauth.SESSION_KEY][state]["verifier"]
    zoom_answers(token=token_body(scope="user:read:admin group:read:admin"))

    response = callback(client, tenant, code=CODE, state=state)

    assert connected_redirect(response), response.content
    # Exactly what the token request sent (docs/zoom.md, "The token endpoint").
    (call,) = token_calls()
    expected_basic = base64.b64encode(
        f"{tenant.client_id}:{tenant.client_secret}".encode()).decode()
    assert call.request.headers["Authorization"] == f"Basic {expected_basic}"
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(call.request.body) == {
        "grant_type": ["authorization_code"], "code": [CODE],
        "redirect_uri": [redirect_uri(tenant)], "code_verifier": [verifier]}
    assert call.request.req_kwargs["timeout"] == settings.ZOOM_HTTP_TIMEOUT
    me_call = responses.calls[1]
    assert me_call.request.headers["Authorization"] == "Bearer access-new-1"
    assert me_call.request.req_kwargs["timeout"] == settings.ZOOM_HTTP_TIMEOUT

    conn = ZoomConnection.objects.get(tenant=tenant)
    assert conn.state == ConnectionState.CONNECTED
    assert (conn.access_token, conn.refresh_token) == ("access-new-1", "refresh-new-1")
    assert conn.authorized_by_email == "admin@cust.example"
    assert conn.authorized_at and conn.access_token_expires_at > conn.authorized_at
    # A classic app: missing named in classic names; meeting:read:admin is not needed, the
    # overview scope is optional.
    assert conn.scope_kind == "classic"
    assert conn.missing_scopes.split() == ["dashboard_meetings:read:admin",
                                           "dashboard_webinars:read:admin"]
    tenant.refresh_from_db()
    assert tenant.zoom_account_id == "Aq7Zp1"
    page = done_page(client, tenant).content.decode()
    assert "Zoom is connected" in page and "Aq7Zp1" in page and "admin@cust.example" in page
    assert "dashboard_home:read:admin" in page and "missing" in page
    assert response["Referrer-Policy"] == "no-referrer"
    assert state not in client.session[oauth.SESSION_KEY]


@responses.activate
def test_installation_url_flow_without_state_uses_no_pkce(client, tenant):
    zoom_answers()
    response = callback(client, tenant, code=CODE)
    assert connected_redirect(response)
    assert b"Some permissions are missing" not in done_page(client, tenant).content
    (call,) = token_calls()
    assert parse_qs(call.request.body) == {"grant_type": ["authorization_code"], "code": [CODE],
                                           "redirect_uri": [redirect_uri(tenant)]}
    assert ZoomConnection.objects.get(tenant=tenant).state == ConnectionState.CONNECTED


@responses.activate
def test_reauthorizing_the_same_account_replaces_the_tokens(client, tenant):
    connect(tenant, state=ConnectionState.NEEDS_REAUTH, access="", refresh="")
    zoom_answers()
    assert connected_redirect(callback(client, tenant, code=CODE))
    conn = ZoomConnection.objects.get(tenant=tenant)
    assert conn.state == ConnectionState.CONNECTED and conn.refresh_token == "refresh-new-1"
    assert conn.last_error == ""


@responses.activate
def test_tokens_are_encrypted_at_rest(client, tenant):
    zoom_answers()
    callback(client, tenant, code=CODE)
    with db.cursor() as cursor:
        cursor.execute("SELECT access_token, refresh_token FROM "
                       "zoom_integration_zoomconnection WHERE tenant_id = %s", [tenant.pk])
        raw_access, raw_refresh = cursor.fetchone()
    assert "access-new-1" not in raw_access and "refresh-new-1" not in raw_refresh
    assert raw_access.startswith("gAAAA") and raw_refresh.startswith("gAAAA")  # Fernet
    from tenants.fields import decrypt

    assert (decrypt(raw_access), decrypt(raw_refresh)) == ("access-new-1", "refresh-new-1")


# --- callback, every error case -------------------------------------------------------------

@responses.activate
def test_reused_state_is_refused_and_zoom_is_called_once(client, tenant):
    state = start(client, tenant)["state"][0]
    zoom_answers()
    assert connected_redirect(callback(client, tenant, code=CODE, state=state))
    response = callback(client, tenant, code=CODE, state=state)
    assert response.status_code == 400
    assert b"already used" in response.content
    assert len(token_calls()) == 1


@responses.activate
@pytest.mark.parametrize("state", ["", "not-a-state-we-issued-AAAAAAAAAAAAAAAAAAAAAA"])
def test_empty_or_unknown_state_is_refused_without_calling_zoom(client, tenant, state):
    start(client, tenant)
    response = callback(client, tenant, code=CODE, state=state)
    assert response.status_code == 400
    assert b"Zoom was not connected" in response.content
    assert len(responses.calls) == 0
    assert not ZoomConnection.objects.filter(tenant=tenant).exists()


@responses.activate
def test_expired_state_is_refused_and_consumed(client, tenant):
    state = start(client, tenant)["state"][0]
    session = client.session
    stash = session[oauth.SESSION_KEY]
    stash[state]["issued_at"] -= oauth.STATE_TTL_SECONDS + 1
    session[oauth.SESSION_KEY] = stash
    session.save()
    response = callback(client, tenant, code=CODE, state=state)
    assert response.status_code == 400 and b"expired" in response.content
    assert state not in client.session[oauth.SESSION_KEY]
    assert len(responses.calls) == 0


@responses.activate
def test_state_from_another_browser_session_is_refused(client, tenant):
    from django.test import Client

    state = start(Client(), tenant)["state"][0]  # someone else's browser
    response = callback(client, tenant, code=CODE, state=state)
    assert response.status_code == 400
    assert len(responses.calls) == 0


@responses.activate
def test_state_started_for_another_tenant_is_refused(client, tenant):
    other = TenantFactory()
    state = start(client, other)["state"][0]
    response = callback(client, tenant, code=CODE, state=state)  # tampered host/tenant
    assert response.status_code == 400 and b"different customer" in response.content
    assert len(responses.calls) == 0
    assert state not in client.session[oauth.SESSION_KEY]  # single use, even on refusal


@responses.activate
def test_access_denied_is_a_403_page_and_consumes_the_state(client, tenant):
    state = start(client, tenant)["state"][0]
    response = callback(client, tenant, error="access_denied", state=state)
    assert response.status_code == 403 and b"declined" in response.content
    assert state not in client.session[oauth.SESSION_KEY]
    assert len(responses.calls) == 0


@responses.activate
def test_access_denied_in_the_installation_flow_is_a_403_page(client, tenant):
    assert callback(client, tenant, error="access_denied").status_code == 403
    assert len(responses.calls) == 0


@responses.activate
def test_other_zoom_error_and_missing_code_are_400(client, tenant):
    assert callback(client, tenant, error="server_error").status_code == 400
    state = start(client, tenant)["state"][0]
    assert callback(client, tenant, state=state).status_code == 400
    assert len(responses.calls) == 0


@responses.activate
@pytest.mark.parametrize("error,status", [("invalid_grant", 400), ("invalid_request", 400),
                                          ("invalid_client", 409)])
def test_zoom_refusing_the_code_is_an_error_page(client, tenant, error, status):
    state = start(client, tenant)["state"][0]
    responses.add(responses.POST, TOKEN_URL, status=400,
                  json={"reason": f"Invalid authorization code {CODE}", "error": error})
    response = callback(client, tenant, code=CODE, state=state)
    assert response.status_code == status
    assert CODE.encode() not in response.content
    assert not ZoomConnection.objects.filter(tenant=tenant).exists()


@responses.activate
@pytest.mark.parametrize("failure", [
    requests.ConnectionError("connection refused"), requests.ReadTimeout("read timed out"),
    requests.ConnectTimeout("connect timed out"), 503])
def test_zoom_unreachable_or_slow_on_the_token_call_is_424(client, tenant, failure):
    state = start(client, tenant)["state"][0]
    if isinstance(failure, int):
        responses.add(responses.POST, TOKEN_URL, status=failure, body="busy")
    else:
        responses.add(responses.POST, TOKEN_URL, body=failure)
    response = callback(client, tenant, code=CODE, state=state)
    assert response.status_code == 424
    assert b"could not be reached" in response.content
    assert not ZoomConnection.objects.filter(tenant=tenant).exists()


@responses.activate
@pytest.mark.parametrize("me_failure", [requests.ReadTimeout("slow"), 500, 401])
def test_users_me_failing_is_424_and_stores_nothing(client, tenant, me_failure):
    responses.add(responses.POST, TOKEN_URL, json=token_body())
    if isinstance(me_failure, int):
        responses.add(responses.GET, ME_URL, status=me_failure,
                      json={"code": 124, "message": "Invalid access token."})
    else:
        responses.add(responses.GET, ME_URL, body=me_failure)
    response = callback(client, tenant, code=CODE)
    assert response.status_code == 424
    assert not ZoomConnection.objects.filter(tenant=tenant).exists()
    tenant.refresh_from_db()
    assert tenant.zoom_account_id == ""


@responses.activate
def test_a_different_zoom_account_is_refused_and_its_tokens_revoked(client, tenant):
    connect(tenant, account_id="Aq7Zp1")
    zoom_answers(me=me_body(account_id="OTHER99"))
    responses.add(responses.POST, REVOKE_URL, json={"status": "success"})
    response = callback(client, tenant, code=CODE)
    assert response.status_code == 409
    assert b"different Zoom account" in response.content
    tenant.refresh_from_db()
    assert tenant.zoom_account_id == "Aq7Zp1"
    conn = ZoomConnection.objects.get(tenant=tenant)
    assert (conn.access_token, conn.refresh_token) == ("access-old", "refresh-old")
    (revoke,) = [c for c in responses.calls if c.request.url == REVOKE_URL]
    assert parse_qs(revoke.request.body) == {"token": ["access-new-1"]}


@responses.activate
def test_a_zoom_account_already_connected_to_another_tenant_is_refused(client, tenant):
    from tests.factories import TenantFactory

    TenantFactory(slug="first-customer", zoom_account_id="Aq7Zp1")
    zoom_answers(me=me_body(account_id="Aq7Zp1"))
    responses.add(responses.POST, REVOKE_URL, json={"status": "success"})
    response = callback(client, tenant, code=CODE)
    assert response.status_code == 409
    assert b"already connected to another customer" in response.content
    tenant.refresh_from_db()
    assert tenant.zoom_account_id == ""
    assert not ZoomConnection.objects.filter(tenant=tenant, state="connected").exists()
    assert [c for c in responses.calls if c.request.url == REVOKE_URL]


@responses.activate
def test_codes_and_tokens_never_reach_logs_or_pages(client, tenant, caplog):
    caplog.set_level(logging.DEBUG)
    state = start(client, tenant)["state"][0]
    zoom_answers()
    ok = callback(client, tenant, code=CODE, state=state)
    responses.replace(responses.POST, TOKEN_URL, status=400,
                      json={"reason": f"Invalid authorization code {CODE}",
                            "error": "invalid_request"})
    refused = callback(client, tenant, code=CODE)
    for secret in (CODE, "access-new-1", "refresh-new-1", tenant.client_secret, state):
        assert secret not in caplog.text
        assert secret.encode() not in ok.content + refused.content


def test_access_log_filter_hides_the_callback_query():
    record = logging.LogRecord(
        "django.server", logging.INFO, __file__, 1, '"%s" %s %s',
        (f"GET /adminapi/zoom/oauth/authorize?code={CODE}&state=abc HTTP/1.1", "200", "512"),
        None)
    assert RedactSensitiveQueryFilter().filter(record) is True
    line = record.getMessage()
    assert CODE not in line and "state=abc" not in line
    assert line == ('"GET /adminapi/zoom/oauth/authorize?code=[redacted]&state=[redacted] '
                    'HTTP/1.1" 200 512')


def test_access_log_filter_is_wired_into_the_request_loggers():
    from django.conf import settings

    for logger in ("django.server", "gunicorn.access"):
        handlers = settings.LOGGING["loggers"][logger]["handlers"]
        for handler in handlers:
            assert "redact_query" in settings.LOGGING["handlers"][handler]["filters"]


@responses.activate
def test_users_me_refused_for_a_missing_scope_names_it_on_a_4xx_page(client, tenant):
    # A granular app without user:read:user:admin: the account cannot be learnt.
    zoom_answers(token=token_body(scope="user:read:list_users:admin"), me_status=400, me={
        "code": 4711, "message": "Invalid access token, does not contain "
                                 "scopes:[user:read:user:admin, user:read:user]."})
    responses.add(responses.POST, REVOKE_URL, json={"status": "success"})
    response = callback(client, tenant, code=CODE)
    assert response.status_code == 409
    page = response.content.decode()
    assert "The app lacks scopes user:read:user:admin, user:read:user: add them in Zoom, then " \
        "authorize again." in page
    assert not ZoomConnection.objects.filter(tenant=tenant,
                                             state=ConnectionState.CONNECTED).exists()
