"""OAuth: consent page, code exchange, PKCE, refresh rotation, token checks.

Zoom's behaviour: docs/zoom.md, "OAuth".
"""

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import requests

from zoom_integration.sandbox.testing import running_sandbox

REDIRECT = "https://t1.example/adminapi/zoom/oauth/authorize"


def token_call(sandbox, app, **data):
    return requests.post(sandbox.base_url + "/oauth/token",
                         auth=(app["client_id"], app["client_secret"]), data=data, timeout=5)


def exchange(sandbox, app, code, redirect=None, **extra):
    return token_call(sandbox, app, grant_type="authorization_code", code=code,
                      redirect_uri=redirect or app["redirect_uris"][0], **extra)


def test_consent_page_has_authorize_and_deny(zoom_sandbox):
    app = zoom_sandbox.app
    page = requests.get(zoom_sandbox.base_url + "/oauth/authorize", params={
        "response_type": "code", "client_id": app["client_id"],
        "redirect_uri": app["redirect_uris"][0], "state": "s1"}, timeout=5)
    assert page.status_code == 200
    assert ">Authorize</button>" in page.text and ">Deny</button>" in page.text
    assert 'name="state" value="s1"' in page.text


def test_consent_page_rejects_unknown_client_and_unregistered_redirect(zoom_sandbox):
    app = zoom_sandbox.app
    url = zoom_sandbox.base_url + "/oauth/authorize"
    unknown = requests.get(url, params={"response_type": "code", "client_id": "nope",
                                        "redirect_uri": app["redirect_uris"][0]}, timeout=5)
    other = requests.get(url, params={"response_type": "code", "client_id": app["client_id"],
                                      "redirect_uri": "https://evil.example/cb"}, timeout=5)
    assert unknown.status_code == 400
    assert other.status_code == 400


def test_authorize_returns_code_and_untouched_state(zoom_sandbox):
    app = zoom_sandbox.register_app(redirect_uri=REDIRECT + "?x=1")
    state = "a b+c/=&%ü"
    location = zoom_sandbox.authorize(app["client_id"], state=state)
    parts = urlsplit(location)
    query = parse_qs(parts.query)
    assert location.startswith(REDIRECT + "?x=1&")
    assert query["state"] == [state]
    assert len(query["code"][0]) > 20


def test_deny_redirects_with_access_denied(zoom_sandbox):
    location = zoom_sandbox.authorize(zoom_sandbox.app["client_id"], state="s", deny=True)
    assert parse_qs(urlsplit(location).query) == {"error": ["access_denied"], "state": ["s"]}


def test_token_response_shape_and_api_url(connected):
    sandbox, _app, token = connected
    assert set(token) >= {"access_token", "token_type", "refresh_token", "expires_in", "scope",
                          "api_url"}
    assert token["expires_in"] == 3599
    assert "user:read:admin" in token["scope"].split(" ")
    assert token["api_url"] == sandbox.base_url


def test_basic_auth_must_be_standard_base64():
    # A secret whose "id:secret" encodes with "+" or "/", where urlsafe_b64encode differs: Zoom
    # wants standard base64.
    secret = next(s for s in (f"s~?>{i}" for i in range(500))
                  if set("+/") & set(base64.b64encode(f"cid:{s}".encode()).decode()))
    with running_sandbox(apps=[{"client_id": "cid", "client_secret": secret,
                                "redirect_uri": REDIRECT}]) as sandbox:
        code = sandbox.authorization_code("cid")
        body = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
        urlsafe = base64.urlsafe_b64encode(f"cid:{secret}".encode()).decode()
        wrong = requests.post(sandbox.base_url + "/oauth/token", data=body, timeout=5,
                              headers={"Authorization": f"Basic {urlsafe}"})
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_client"
        code = sandbox.authorization_code("cid")
        right = requests.post(sandbox.base_url + "/oauth/token", auth=("cid", secret),
                              data={**body, "code": code}, timeout=5)
        assert right.status_code == 200


def test_code_is_single_use(zoom_sandbox):
    app = zoom_sandbox.app
    code = zoom_sandbox.authorization_code(app["client_id"])
    assert exchange(zoom_sandbox, app, code).status_code == 200
    again = exchange(zoom_sandbox, app, code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_request"
    assert again.json()["reason"].startswith("Invalid authorization code")


def test_code_expires_after_five_minutes(zoom_sandbox):
    app = zoom_sandbox.app
    code = zoom_sandbox.authorization_code(app["client_id"])
    zoom_sandbox.advance_clock(301)
    answer = exchange(zoom_sandbox, app, code)
    assert answer.status_code == 400
    assert answer.json() == {"reason": "Code is expired", "error": "invalid_request"}


def test_redirect_uri_must_match_the_authorize_one(zoom_sandbox):
    app = zoom_sandbox.register_app(redirect_uris=[REDIRECT, REDIRECT + "2"])
    code = zoom_sandbox.authorization_code(app["client_id"], REDIRECT)
    answer = exchange(zoom_sandbox, app, code, redirect=REDIRECT + "2")
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


def test_pkce_s256_is_verified(zoom_sandbox):
    app = zoom_sandbox.app
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(
        b"=").decode()
    for sent, status in [("", 400), ("w" * 50, 400), (verifier, 200)]:
        code = zoom_sandbox.authorization_code(app["client_id"], code_challenge=challenge)
        extra = {"code_verifier": sent} if sent else {}
        answer = exchange(zoom_sandbox, app, code, **extra)
        assert answer.status_code == status, (sent, answer.text)
        if status == 400:
            assert answer.json()["error"] == "invalid_grant"


def test_refresh_rotates_and_old_token_is_rejected(connected):
    sandbox, app, token = connected
    first = token_call(sandbox, app, grant_type="refresh_token",
                       refresh_token=token["refresh_token"])
    assert first.status_code == 200
    assert first.json()["refresh_token"] != token["refresh_token"]
    reused = token_call(sandbox, app, grant_type="refresh_token",
                        refresh_token=token["refresh_token"])
    assert reused.status_code == 400
    assert reused.json() == {"reason": "Invalid Token!", "error": "invalid_grant"}
    newest = token_call(sandbox, app, grant_type="refresh_token",
                        refresh_token=first.json()["refresh_token"])
    assert newest.status_code == 200
    calls = sandbox.token_calls(app["client_id"])
    assert calls["refresh_token"] == 3 and calls["authorization_code"] == 1
    assert calls["errors"] == 1


def test_expired_unknown_and_query_tokens_get_124(connected):
    sandbox, _app, token = connected
    url = sandbox.api_base_url + "/users/me"
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert requests.get(url, headers=bearer, timeout=5).status_code == 200
    in_query = requests.get(url, params={"access_token": token["access_token"]}, timeout=5)
    assert in_query.status_code == 401 and in_query.json()["code"] == 124
    unknown = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=5)
    assert unknown.status_code == 401
    assert unknown.json() == {"code": 124, "message": "Invalid access token."}
    sandbox.advance_clock(3600)
    expired = requests.get(url, headers=bearer, timeout=5)
    assert expired.status_code == 401 and expired.json()["code"] == 124


def test_revoke_and_reinstall_end_the_old_tokens(connected):
    sandbox, app, token = connected
    code = sandbox.authorization_code(app["client_id"])
    second = exchange(sandbox, app, code).json()
    # A new authorization revokes the earlier pair (Zoom's code 4741).
    stale = token_call(sandbox, app, grant_type="refresh_token",
                       refresh_token=token["refresh_token"])
    assert stale.status_code == 400
    revoke = requests.post(sandbox.base_url + "/oauth/revoke",
                           auth=(app["client_id"], app["client_secret"]),
                           data={"token": second["access_token"]}, timeout=5)
    assert revoke.json() == {"status": "success"}
    me = requests.get(sandbox.api_base_url + "/users/me", timeout=5,
                      headers={"Authorization": f"Bearer {second['access_token']}"})
    assert me.status_code == 401


def test_credentials_come_from_the_seed():
    with running_sandbox(seed=7) as one, running_sandbox(seed=7) as two:
        assert one.app == two.app
    with running_sandbox(seed=8) as three:
        assert three.app["client_secret"] != one.app["client_secret"]
