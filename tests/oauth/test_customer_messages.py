"""What the customer's Zoom admin reads when an authorization cannot go through: for each cause,
the exact sentence and status of the error page.

These pages are the only help a customer gets without calling the vendor, so their words are
behaviour: each says what happened and what to do next, and never shows a code or token.
"""

import pytest
import requests
import responses

from tests.factories import TenantFactory
from zoom_integration import oauth

from .conftest import ME_URL, REVOKE_URL, TOKEN_URL, connect, me_body, token_body
from .test_flow import CODE, callback, host, start

pytestmark = pytest.mark.django_db

START_AGAIN = "Please start the authorization again."


def _fresh_state(client, tenant):
    return start(client, tenant)["state"][0]


def _expired_state(client, tenant):
    state = _fresh_state(client, tenant)
    session = client.session
    stash = session[oauth.SESSION_KEY]
    stash[state]["issued_at"] -= oauth.STATE_TTL_SECONDS
    session[oauth.SESSION_KEY] = stash
    session.save()
    return state


def _other_tenants_state(client, tenant):
    other = TenantFactory()
    response = client.get("/adminapi/zoom/oauth/start", HTTP_HOST=host(other), secure=True)
    assert response.status_code == 302
    return next(iter(client.session[oauth.SESSION_KEY]))


# (case, how the state is made, extra query, Zoom's token answer, status, message)
REFUSED_BEFORE_ZOOM = [
    ("empty state", lambda c, t: "", {"code": CODE}, 400,
     "The answer from Zoom is missing its security token. " + START_AGAIN),
    ("unknown state", lambda c, t: "not-a-state", {"code": CODE}, 400,
     "This authorization link is unknown, was already used, or was started in another "
     "browser. " + START_AGAIN),
    ("state just expired", _expired_state, {"code": CODE}, 400,
     "This authorization link has expired (it lasts 10 minutes). " + START_AGAIN),
    ("another portal's state", _other_tenants_state, {"code": CODE}, 400,
     "This authorization was started for a different customer portal. Please start again "
     "from your own portal link."),
    ("declined in Zoom", _fresh_state, {"error": "access_denied"}, 403,
     "The authorization was declined in Zoom, so nothing was connected. You can start again "
     "at any time."),
    ("other Zoom error", _fresh_state, {"error": "server_error"}, 400,
     "Zoom did not authorize the app. Please start again."),
    ("no code", _fresh_state, {}, 400,
     "The answer from Zoom has no authorization code. " + START_AGAIN),
]


@pytest.mark.parametrize(("make_state", "query", "status", "message"),
                         [case[1:] for case in REFUSED_BEFORE_ZOOM],
                         ids=[case[0] for case in REFUSED_BEFORE_ZOOM])
@responses.activate
def test_a_refused_callback_says_why_and_what_to_do(client, tenant, make_state, query, status,
                                                      message):
    state = make_state(client, tenant)
    response = callback(client, tenant, state=state, **query)
    assert (response.status_code, response.context["message"]) == (status, message)
    assert len(responses.calls) == 0  # refused before anything reached Zoom


UNREACHABLE = ("Zoom could not be reached or did not answer in time, so nothing was connected. "
               "Please try again in a few minutes.")


def _token(status=200, **body):
    def answer():
        responses.add(responses.POST, TOKEN_URL, json=body or token_body(), status=status)
    return answer


def _token_then_me(me_status=200, **me):
    def answer():
        responses.add(responses.POST, TOKEN_URL, json=token_body())
        responses.add(responses.GET, ME_URL, json=me or me_body(), status=me_status)
    return answer


def _token_not_an_object():
    responses.add(responses.POST, TOKEN_URL, json=[token_body()])


def _token_unreachable():
    responses.add(responses.POST, TOKEN_URL, body=requests.ConnectionError("refused"))


REFUSED_BY_ZOOM = [
    ("app credentials refused", _token(401, error="invalid_client", reason="Invalid client"),
     409, "Zoom did not accept this portal's app credentials. Please contact your account "
          "manager."),
    ("code refused", _token(400, error="invalid_grant", reason="Invalid authorization code"),
     400, "Zoom did not accept this authorization (it may have expired or been used already). "
          + START_AGAIN),
    ("token endpoint unreachable", _token_unreachable, 424, UNREACHABLE),
    ("token answer not a JSON object", _token_not_an_object, 424, UNREACHABLE),
    ("token endpoint failing", _token(503), 424, UNREACHABLE),
    ("users/me failing", _token_then_me(me_status=502, code=0, message="Bad gateway"), 424,
     UNREACHABLE),
    ("users/me without account", _token_then_me(id="U1", email="a@b.example"), 424,
     UNREACHABLE),
    ("users/me refused for a scope",
     _token_then_me(me_status=400, code=4711,
                    message="Invalid access token, does not contain scopes:[user:read:user]."),
     409, "The app lacks scope user:read:user: add it in Zoom, then authorize again."),
]


@pytest.mark.parametrize(("zoom_answer", "status", "message"),
                         [case[1:] for case in REFUSED_BY_ZOOM],
                         ids=[case[0] for case in REFUSED_BY_ZOOM])
@responses.activate
def test_a_callback_zoom_refuses_says_why_and_what_to_do(client, tenant, zoom_answer, status,
                                                           message):
    responses.add(responses.POST, REVOKE_URL, json={"status": "success"})
    zoom_answer()
    response = callback(client, tenant, code=CODE, state=_fresh_state(client, tenant))
    assert (response.status_code, response.context["message"]) == (status, message)


ACCOUNT_REFUSALS = [
    ("not the expected account", {"expected_zoom_account_id": "Expected1"}, 403,
     "This Zoom account is not the one this portal expects. Please sign in to Zoom with your "
     "organisation's account, or contact your account manager."),
    ("account of another customer", {"other_tenant_account": "Aq7Zp1"}, 409,
     "This Zoom account is already connected to another customer record in this portal. "
     "Please contact your account manager."),
    ("another account than before", {"zoom_account_id": "Before1"}, 409,
     "This portal is already linked to a different Zoom account. Please sign in to Zoom with "
     "the account that was connected before, or contact your account manager to change it."),
]


@pytest.mark.parametrize(("setup", "status", "message"), [case[1:] for case in ACCOUNT_REFUSALS],
                         ids=[case[0] for case in ACCOUNT_REFUSALS])
@responses.activate
def test_a_refused_zoom_account_says_which_rule_and_what_to_do(client, tenant, setup, status,
                                                                message):
    if "other_tenant_account" in setup:
        connect(TenantFactory(), account_id=setup["other_tenant_account"])
    else:
        for name, value in setup.items():
            setattr(tenant, name, value)
        tenant.save()
    responses.add(responses.POST, TOKEN_URL, json=token_body())
    responses.add(responses.GET, ME_URL, json=me_body(account_id="Aq7Zp1"))
    responses.add(responses.POST, REVOKE_URL, json={"status": "success"})
    response = callback(client, tenant, code=CODE, state=_fresh_state(client, tenant))
    assert (response.status_code, response.context["message"]) == (status, message)


def test_a_portal_not_set_up_says_so_before_sending_anyone_to_zoom(client, tenant):
    tenant.client_id = ""
    tenant.save()
    response = client.get("/adminapi/zoom/oauth/start", HTTP_HOST=host(tenant), secure=True)
    assert (response.status_code, response.context["message"]) == (
        409, "This portal is not fully set up for your Zoom app yet (Client ID, Client Secret "
             "or hostname missing). Please contact your account manager.")
