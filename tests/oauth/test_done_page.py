"""The customer's landing page after authorizing: a stable page showing the current state."""

import pytest
import responses
from django.test import Client

from zoom_integration.models import ConnectionState

from .conftest import connect
from .test_flow import CODE, DONE, callback, done_page, host, start, zoom_answers

pytestmark = pytest.mark.django_db


@responses.activate
def test_reloading_the_done_page_keeps_saying_connected(client, tenant):
    state = start(client, tenant)["state"][0]
    zoom_answers()
    response = callback(client, tenant, code=CODE, state=state)
    assert response.status_code == 302 and response["Location"] == DONE
    for _reload in range(2):
        page = done_page(client, tenant)
        text = page.content.decode()
        assert page.status_code == 200
        assert "Zoom is connected" in text and "Aq7Zp1" in text and "admin@cust.example" in text
        assert "not connected" not in text and "Error" not in text
        assert page["Cache-Control"].startswith("max-age=0")
    # Replaying the spent callback is still the 400 page; the done page is not.
    assert callback(client, tenant, code=CODE, state=state).status_code == 400
    assert done_page(client, tenant).status_code == 200


def test_another_browser_sees_the_state_but_not_the_account(tenant):
    connect(tenant, account_id="Acct9")
    text = done_page(Client(), tenant).content.decode()
    assert "Zoom is connected" in text
    assert "Acct9" not in text and "admin@" not in text


@pytest.mark.parametrize("state, wording", [
    (None, "is not connected to the Zoom account"),
    (ConnectionState.NOT_CONNECTED, "is not connected to the Zoom account"),
    (ConnectionState.NEEDS_REAUTH, "has ended"),
    (ConnectionState.DEAUTHORIZED, "has ended"),
])
def test_not_connected_says_so_with_a_way_to_connect(client, tenant, state, wording):
    if state is not None:
        connect(tenant, state=state)
    page = done_page(client, tenant)
    text = page.content.decode()
    assert page.status_code == 200
    assert "Zoom is not connected" in text and wording in text
    assert 'href="/adminapi/zoom/oauth/start"' in text


def test_the_done_page_on_an_unknown_host_is_404(client):
    assert client.get(DONE, HTTP_HOST="nobody.portal.test", secure=True).status_code == 404


def test_the_done_page_answers_get_only(client, tenant):
    assert client.post(DONE, HTTP_HOST=host(tenant), secure=True).status_code == 405
