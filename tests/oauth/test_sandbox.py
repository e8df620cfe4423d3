"""End to end against the Zoom sandbox over real HTTP: both flows, expiry, and exactly one
refresh with many concurrent callers (threads, then two separate processes)."""

import json
import os
import subprocess
import sys
import threading
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.conf import settings
from django.db import connection
from django.utils import timezone

from zoom_integration import oauth
from zoom_integration.exceptions import ReauthorizationRequiredError
from zoom_integration.models import ConnectionState, ZoomConnection
from zoom_sandbox.testing import running_sandbox

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sandbox():
    with running_sandbox() as zoom:
        yield zoom


@pytest.fixture
def zoom(sandbox, settings):
    settings.ZOOM_OAUTH_BASE_URL = sandbox.base_url
    settings.ZOOM_API_BASE_URL = sandbox.api_base_url
    sandbox.clear_faults()
    yield sandbox
    sandbox.clear_faults()


def host(tenant):
    return f"{tenant.slug}.portal.test"


def register(zoom, tenant, scopes=""):
    # A granular app, as every app created since 2024 (empty scopes: all the portal uses).
    return zoom.register_app(
        client_id=tenant.client_id, client_secret=tenant.client_secret,
        redirect_uri=f"https://{host(tenant)}/adminapi/zoom/oauth/authorize", scopes=scopes)


def consent(start_location: str, decision: str = "allow") -> str:
    """What the customer's browser does on Zoom's consent page; returns the redirect back."""
    page = requests.get(start_location, timeout=10)
    assert page.status_code == 200 and "Authorize" in page.text
    parts = urlsplit(start_location)
    form = {k: v[0] for k, v in parse_qs(parts.query).items()} | {"decision": decision}
    answer = requests.post(f"{parts.scheme}://{parts.netloc}{parts.path}", data=form,
                           allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    return answer.headers["Location"]


def back_to_portal(client, tenant, location):
    parts = urlsplit(location)
    assert f"https://{parts.netloc}{parts.path}" == (
        f"https://{host(tenant)}/adminapi/zoom/oauth/authorize")
    response = client.get(f"{parts.path}?{parts.query}", HTTP_HOST=parts.netloc, secure=True)
    if response.status_code != 302:
        return response  # an error page
    # Success redirects to the stable done page: what the customer's browser shows next.
    return client.get(response["Location"], HTTP_HOST=parts.netloc, secure=True)


def connect_via_installation_url(zoom, tenant):
    app = register(zoom, tenant)
    code = zoom.authorization_code(app["client_id"])
    oauth.authorization_complete(tenant=tenant, session={}, query={"code": code})
    return app


@pytest.mark.django_db
def test_customer_link_consent_and_callback_connect_and_survive_expiry(client, zoom, tenant):
    app = register(zoom, tenant, scopes="user:read:user:admin user:read:list_users:admin "
                                        "group:read:list_groups:admin "
                                        "group:read:list_members:admin")
    start = client.get("/adminapi/zoom/oauth/start", HTTP_HOST=host(tenant), secure=True)
    assert start.status_code == 302 and start["Location"].startswith(zoom.base_url)

    response = back_to_portal(client, tenant, consent(start["Location"]))

    assert response.status_code == 200, response.content
    # Reported missing in the app's own (granular) names.
    assert b"dashboard:read:list_meeting_participants_qos:admin" in response.content
    assert b"dashboard_meetings:read:admin" not in response.content
    conn = ZoomConnection.objects.get(tenant=tenant)
    assert conn.state == ConnectionState.CONNECTED
    tenant.refresh_from_db()
    assert tenant.zoom_account_id == app["account_id"]
    assert zoom.token_calls(app["client_id"]) == {"authorization_code": 1}

    # An hour later at Zoom and here: the token is refreshed first, and the call works.
    zoom.advance_clock(3700)
    ZoomConnection.objects.filter(pk=conn.pk).update(
        access_token_expires_at=timezone.now() - timedelta(seconds=100))
    assert oauth.connection_test(tenant=tenant)["account_id"] == app["account_id"]
    # Zoom expires it behind our back (clock skew): 401 code 124, refresh, retry, works.
    zoom.advance_clock(3700)
    assert oauth.connection_test(tenant=tenant)["account_matches"] is True
    assert zoom.token_calls(app["client_id"])["refresh_token"] == 2


@pytest.mark.django_db
def test_installation_url_flow_end_to_end(client, zoom, tenant):
    app = register(zoom, tenant)
    location = zoom.authorize(app["client_id"])  # from the app's Installation URL: no state
    assert "state=" not in location
    response = back_to_portal(client, tenant, location)
    assert response.status_code == 200
    assert b"Some permissions are missing" not in response.content
    assert ZoomConnection.objects.get(tenant=tenant).state == ConnectionState.CONNECTED


@pytest.mark.django_db
def test_denying_on_the_consent_page_shows_a_403_page(client, zoom, tenant):
    register(zoom, tenant)
    start = client.get("/adminapi/zoom/oauth/start", HTTP_HOST=host(tenant), secure=True)
    response = back_to_portal(client, tenant, consent(start["Location"], decision="deny"))
    assert response.status_code == 403
    assert not ZoomConnection.objects.filter(tenant=tenant).exists()


@pytest.mark.django_db
def test_zoom_slow_on_the_token_call_is_a_424_page(client, zoom, tenant, settings):
    settings.ZOOM_HTTP_TIMEOUT = (1.0, 0.3)
    app = register(zoom, tenant)
    location = zoom.authorize(app["client_id"])
    zoom.set_faults(delay=1.0, path_prefix="/oauth/token")
    assert back_to_portal(client, tenant, location).status_code == 424


@pytest.mark.django_db
def test_app_removed_in_zoom_leads_to_needs_reauth_not_a_retry_loop(zoom, tenant):
    app = connect_via_installation_url(zoom, tenant)
    zoom.deauthorize(app["client_id"])  # tokens die at Zoom (the webhook may come later)
    with pytest.raises(ReauthorizationRequiredError):
        oauth.connection_test(tenant=tenant)
    assert ZoomConnection.objects.get(tenant=tenant).state == ConnectionState.NEEDS_REAUTH
    with pytest.raises(ReauthorizationRequiredError):
        oauth.access_token_get(tenant=tenant)
    assert zoom.token_calls(app["client_id"])["refresh_token"] == 1


@pytest.mark.django_db
def test_revoke_against_the_sandbox(zoom, tenant):
    app = connect_via_installation_url(zoom, tenant)
    token = oauth.access_token_get(tenant=tenant)
    oauth.connection_revoke(tenant=tenant)
    assert zoom.token_calls(app["client_id"])["revoke"] == 1
    me = requests.get(zoom.api_base_url + "/users/me", timeout=5,
                      headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401


def make_due(tenant):
    ZoomConnection.objects.filter(tenant=tenant).update(
        access_token_expires_at=timezone.now() - timedelta(seconds=1))


@pytest.mark.django_db(transaction=True)
def test_ten_threads_cause_exactly_one_refresh(zoom, tenant):
    app = connect_via_installation_url(zoom, tenant)
    make_due(tenant)
    zoom.set_faults(delay=0.3, path_prefix="/oauth/token")  # widen the race window
    barrier, results = threading.Barrier(10), []

    def call():
        try:
            barrier.wait()
            results.append(oauth.access_token_get(tenant=tenant))
        except Exception as exc:
            results.append(exc)
        finally:
            connection.close()  # each thread had its own connection

    threads = [threading.Thread(target=call) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(results) == 10 and len(set(results)) == 1, results
    assert zoom.token_calls(app["client_id"])["refresh_token"] == 1
    assert results[0] == ZoomConnection.objects.get(tenant=tenant).access_token
    assert oauth.connection_test(tenant=tenant)["account_matches"]


@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_cause_exactly_one_refresh(zoom, tenant):
    app = connect_via_installation_url(zoom, tenant)
    make_due(tenant)
    zoom.set_faults(delay=0.3, path_prefix="/oauth/token")
    db = settings.DATABASES["default"]
    env = {**os.environ, "SANDBOX_URL": zoom.base_url, "REDIS_URL": settings.REDIS_URL,
           "DJANGO_SETTINGS_MODULE": "nectar_portal.settings.test",
           "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:"
                           f"{db['PORT']}/{db['NAME']}"}
    workers = [subprocess.Popen([sys.executable, "-m", "tests.oauth.refresh_worker",
                                 tenant.slug, "5"], cwd=settings.BASE_DIR, env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for _ in range(2)]
    try:
        for worker in workers:
            assert worker.stdout.readline().strip() == "ready"
        for worker in workers:  # both go at once
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outputs = [json.loads(worker.communicate(timeout=60)[0].strip().splitlines()[-1])
                   for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    tokens = outputs[0] + outputs[1]
    assert len(tokens) == 10 and len(set(tokens)) == 1, tokens
    assert zoom.token_calls(app["client_id"])["refresh_token"] == 1
    assert tokens[0] == ZoomConnection.objects.get(tenant=tenant).access_token
