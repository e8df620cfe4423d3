"""The ``zoom_sandbox`` fixture: a sandbox on a free port, in a thread, per test."""

import pytest
import requests

from zoom_sandbox.testing import running_sandbox


@pytest.fixture
def zoom_sandbox():
    with running_sandbox() as handle:
        yield handle


@pytest.fixture
def connected(zoom_sandbox):
    """(sandbox, app, token response) after a full authorization-code flow."""
    app = zoom_sandbox.app
    code = zoom_sandbox.authorization_code(app["client_id"])
    answer = requests.post(
        zoom_sandbox.base_url + "/oauth/token",
        auth=(app["client_id"], app["client_secret"]),
        data={"grant_type": "authorization_code", "code": code,
              "redirect_uri": app["redirect_uris"][0]},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    return zoom_sandbox, app, answer.json()


@pytest.fixture
def api(connected):
    """GET /v2/<path> with the bearer token: ``api("/users/me", params={...})``."""
    sandbox, _app, token = connected
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token['access_token']}"

    def get(path, **kw):
        return session.get(sandbox.api_base_url + path, timeout=10, **kw)

    return get


def token_for(sandbox, app):
    """The token answer after the customer authorizes ``app`` (a dict from register_app)."""
    code = sandbox.authorization_code(app["client_id"])
    answer = requests.post(
        sandbox.base_url + "/oauth/token", auth=(app["client_id"], app["client_secret"]),
        data={"grant_type": "authorization_code", "code": code,
              "redirect_uri": app["redirect_uris"][0]},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def api_for(sandbox, token):
    """GET /v2<path> with ``token``'s access token."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token['access_token']}"

    def get(path, **kw):
        return session.get(sandbox.api_base_url + path, timeout=10, **kw)

    return get
