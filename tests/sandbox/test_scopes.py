"""Scopes: granular apps by default, classic on request, each route enforced with Zoom's 4711."""

import time

import pytest
import requests

from tests.sandbox.conftest import api_for, token_for
from zoom_sandbox.scopes import DEFAULT_SCOPES, REQUIRED

REDIRECT = "http://localhost:8000/adminapi/zoom/oauth/authorize"
TODAY = time.strftime("%Y-%m-%d", time.gmtime())
WINDOW = {"from": TODAY, "to": TODAY}


def routes(sandbox):
    """(route key, path, params) for one call of every scoped /v2 route."""
    meeting = sandbox.end_meeting(participants=3)["uuid"]
    webinar = sandbox.end_webinar(participants=3)["uuid"]
    group = sandbox.sandbox.world.group_id(sandbox.sandbox.world.first_account(), 0)
    past = {"type": "past"}
    calls = [("users", "/users", {}), ("user", "/users/me", {}), ("groups", "/groups", {}),
             ("members", f"/groups/{group}/members", {}),
             ("quality", "/metrics/quality", WINDOW),
             ("client_versions", "/metrics/client_versions", {}),
             ("zoomrooms", "/metrics/zoomrooms", {}),
             ("zoomrooms_top_rooms", "/metrics/issues/zoomrooms", WINDOW),
             ("zoomrooms_top_issues", "/metrics/zoomrooms/issues", WINDOW)]
    for kind, uuid in (("meetings", meeting), ("webinars", webinar)):
        ident = requests.utils.quote(requests.utils.quote(uuid, safe=""), safe="")
        calls += [(f"metrics_list:{kind}", f"/metrics/{kind}", {**WINDOW, **past}),
                  (f"metrics_detail:{kind}", f"/metrics/{kind}/{ident}", past),
                  (f"metrics_participants:{kind}", f"/metrics/{kind}/{ident}/participants",
                   past),
                  (f"metrics_qos:{kind}", f"/metrics/{kind}/{ident}/participants/qos", past)]
    assert {key for key, _path, _params in calls} == set(REQUIRED)
    return calls


def test_a_new_app_is_granular_and_every_route_answers(connected, api):
    sandbox, app, token = connected
    assert app["scope_kind"] == "granular"
    assert token["scope"] == DEFAULT_SCOPES["granular"]
    assert "user:read:admin" not in token["scope"].split()
    for key, path, params in routes(sandbox):
        answer = api(path, params=params)
        assert answer.status_code == 200, (key, answer.text)


@pytest.mark.parametrize("kind", ["granular", "classic"])
def test_each_route_refuses_a_token_without_its_scope(zoom_sandbox, kind):
    # An app with one scope that covers none of the routes below: every call is refused with
    # 400 / 4711, naming the names of the app's own scheme.
    app = zoom_sandbox.register_app(redirect_uri=REDIRECT, scope_kind=kind,
                                    scopes="meeting:read:admin")
    api = api_for(zoom_sandbox, token_for(zoom_sandbox, app))
    for key, path, params in routes(zoom_sandbox):
        answer = api(path, params=params)
        assert answer.status_code == 400, key
        body = answer.json()
        assert body["code"] == 4711
        classic, granular = REQUIRED[key]
        expected = list(granular) if kind == "granular" else [classic[0]]
        assert body["message"] == ("Invalid access token, does not contain scopes:["
                                   + ", ".join(expected) + "].")


def test_either_scheme_satisfies_a_route(zoom_sandbox):
    # A granular app that was given the classic name still passes (the check accepts both).
    app = zoom_sandbox.register_app(redirect_uri=REDIRECT,
                                    scopes="user:read:admin dashboard:read:admin")
    api = api_for(zoom_sandbox, token_for(zoom_sandbox, app))
    assert api("/users").status_code == 200
    assert api("/metrics/client_versions").status_code == 200  # dashboard:read:admin covers all
    assert api("/groups").json()["code"] == 4711


def test_classic_app_on_request(zoom_sandbox):
    app = zoom_sandbox.register_app(redirect_uri=REDIRECT, scope_kind="classic")
    token = token_for(zoom_sandbox, app)
    assert "dashboard_meetings:read:admin" in token["scope"].split()
    assert "dashboard:read:meeting:admin" not in token["scope"]
    assert api_for(zoom_sandbox, token)("/users").status_code == 200


def test_scopes_list_in_apps_json_and_bad_kind(zoom_sandbox):
    app = zoom_sandbox.register_app(redirect_uri=REDIRECT,
                                    scopes=["user:read:list_users:admin", "user:read:user:admin"])
    assert app["scopes"] == "user:read:list_users:admin user:read:user:admin"
    answer = requests.post(zoom_sandbox.base_url + "/_sandbox/apps",
                           json={"scope_kind": "legacy"}, timeout=5)
    assert answer.status_code == 400 and "scope_kind" in answer.json()["error"]


def test_adding_a_scope_applies_after_authorizing_again(zoom_sandbox):
    app = zoom_sandbox.register_app(
        redirect_uri=REDIRECT,
        scopes=[s for s in DEFAULT_SCOPES["granular"].split()
                if s != "dashboard:read:list_meeting_participants_qos:admin"])
    first = token_for(zoom_sandbox, app)
    uuid = zoom_sandbox.end_meeting(client_id=app["client_id"], participants=2)["uuid"]
    ident = requests.utils.quote(requests.utils.quote(uuid, safe=""), safe="")
    qos = f"/metrics/meetings/{ident}/participants/qos"
    assert api_for(zoom_sandbox, first)(qos, params={"type": "past"}).json()["message"] == (
        "Invalid access token, does not contain scopes:"
        "[dashboard:read:list_meeting_participants_qos:admin].")
    # The customer adds the scope in Zoom (the control API, over HTTP)...
    changed = requests.post(
        f"{zoom_sandbox.base_url}/_sandbox/apps/{app['client_id']}/scopes",
        json={"add": ["dashboard:read:list_meeting_participants_qos:admin"]}, timeout=5).json()
    assert "dashboard:read:list_meeting_participants_qos:admin" in changed["scopes"].split()
    # ...the old token (and one refreshed from it) keeps the old grant...
    refreshed = requests.post(
        zoom_sandbox.base_url + "/oauth/token", auth=(app["client_id"], app["client_secret"]),
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        timeout=5).json()
    assert "dashboard:read:list_meeting_participants_qos:admin" not in refreshed["scope"].split()
    assert api_for(zoom_sandbox, refreshed)(qos, params={"type": "past"}).status_code == 400
    # ...and authorizing again grants it.
    again = token_for(zoom_sandbox, app)
    assert api_for(zoom_sandbox, again)(qos, params={"type": "past"}).status_code == 200


def test_set_scopes_remove_and_switch_kind(zoom_sandbox):
    client_id = zoom_sandbox.app["client_id"]
    url = f"{zoom_sandbox.base_url}/_sandbox/apps/{client_id}/scopes"
    removed = requests.post(url, json={"remove": ["user:read:list_users:admin"]}, timeout=5)
    assert "user:read:list_users:admin" not in removed.json()["scopes"].split()
    classic = requests.post(url, json={"scope_kind": "classic"}, timeout=5).json()
    assert classic["scope_kind"] == "classic"
    assert classic["scopes"] == DEFAULT_SCOPES["classic"]
    exact = requests.post(url, json={"scopes": "user:read:admin"}, timeout=5).json()
    assert exact["scopes"] == "user:read:admin"
    assert requests.post(url, json={"bogus": 1}, timeout=5).status_code == 400
    unknown = requests.post(f"{zoom_sandbox.base_url}/_sandbox/apps/nope/scopes", json={},
                            timeout=5)
    assert unknown.status_code == 400


def test_scope_refusal_spends_no_quota(zoom_sandbox):
    app = zoom_sandbox.register_app(redirect_uri=REDIRECT, scopes="user:read:user:admin")
    api = api_for(zoom_sandbox, token_for(zoom_sandbox, app))
    assert api("/users").status_code == 400
    limits = zoom_sandbox.stats()["rate_limits"].get(app["account_id"], {})
    assert limits.get("Medium", {}).get("calls", 0) == 0
    assert zoom_sandbox.stats()["endpoints"]["GET /users"] == 1
