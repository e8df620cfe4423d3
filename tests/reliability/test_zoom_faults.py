"""Zoom misbehaving: 429s, 5xx and slow answers delay the work but never lose it or
mark a tenant for re-authorization; a refresh answer lost after Zoom rotated the token marks the
tenant for re-authorization once, with an alert, and no retry loop.

The sandbox runs in a thread and speaks real HTTP; the portal's services run in this process
(the worker tests in test_faults.py cover the task plumbing).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from tests.factories import TenantFactory
from zoom_integration.exceptions import ReauthorizationRequiredError, ZoomTransientError
from zoom_integration.models import ConnectionState, ZoomConnection
from zoom_integration.sandbox.testing import running_sandbox

from .audit import LEDGER
from .figures import record_figures

pytestmark = [pytest.mark.fault, pytest.mark.django_db]


@pytest.fixture
def zoom(settings):
    with running_sandbox() as sandbox:
        settings.ZOOM_OAUTH_BASE_URL = sandbox.base_url
        settings.ZOOM_API_BASE_URL = sandbox.api_base_url
        # Short enough that a slow answer is a timeout within the test.
        settings.ZOOM_HTTP_TIMEOUT = (1.0, 0.5)
        settings.ZOOM_HTTP_BACKOFF_SECONDS = 0.01
        settings.ZOOM_HTTP_BACKOFF_MAX_SECONDS = 0.05
        settings.ZOOM_QPS_MAX_WAIT_SECONDS = 0.2
        yield sandbox


def connected_tenant(zoom, *, expires_in: int = 3600):
    tenant = TenantFactory()
    domain = tenant.domains.get().domain
    redirect = f"https://{domain}/adminapi/zoom/oauth/authorize"
    app = zoom.register_app(client_id=tenant.client_id, client_secret=tenant.client_secret,
                            secret_token=tenant.secret_token, redirect_uri=redirect)
    code = zoom.authorization_code(app["client_id"])
    tokens = requests.post(f"{zoom.base_url}/oauth/token",
                           auth=(tenant.client_id, tenant.client_secret),
                           data={"grant_type": "authorization_code", "code": code,
                                 "redirect_uri": redirect}, timeout=10).json()
    LEDGER.add(code, tokens["access_token"], tokens["refresh_token"])
    tenant.zoom_account_id = app["account_id"]
    tenant.save()
    ZoomConnection.objects.create(
        tenant=tenant, state=ConnectionState.CONNECTED, access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"], scopes=tokens.get("scope", ""),
        access_token_expires_at=timezone.now() + timedelta(seconds=expires_in))
    return tenant


def state_of(tenant) -> str:
    return ZoomConnection.objects.get(tenant=tenant).state


def test_429_5xx_and_slow_answers_delay_the_work_and_never_mark_reauthorization(zoom):
    from zoom_integration.directory import tenant_directory_sync_attempt
    from zoom_integration.metrics import meeting_ended_record, metrics_fetch_attempt
    from zoom_integration.oauth import access_token_get

    tenant = connected_tenant(zoom)
    ended = zoom.end_meeting(client_id=tenant.client_id, participants=12, minutes=10)
    meeting = meeting_ended_record(tenant=tenant, kind="meeting", payload=ended["event"]["payload"])
    outcomes = []
    faults = [
        {"error_rate": 1.0, "error_status": 500},  # every /v2/ call a 500
        {"error_rate": 1.0, "error_status": 503},
        {"burst_429_next": 1000},  # per-second 429s
        {"delay": 1.0},  # slower than the read timeout
    ]
    for fault in faults:
        zoom.clear_faults()
        zoom.set_faults(**fault)
        outcomes.append(metrics_fetch_attempt(meeting_id=meeting.pk)["status"])
        outcomes.append(tenant_directory_sync_attempt(tenant_id=tenant.pk)["status"])
        assert state_of(tenant) == ConnectionState.CONNECTED, fault
    # The token endpoint failing too, while a refresh is due: the tokens stay, no re-auth.
    ZoomConnection.objects.filter(tenant=tenant).update(access_token_expires_at=timezone.now())
    zoom.clear_faults()
    zoom.set_faults(path_prefix="/oauth/", error_rate=1.0, error_status=502)
    with pytest.raises(ZoomTransientError):
        access_token_get(tenant=tenant)
    assert state_of(tenant) == ConnectionState.CONNECTED
    zoom.clear_faults()
    time.sleep(0.6)  # let the last slow sandbox answers drain

    assert all(o in ("waiting", "transient", "rate_limited") for o in outcomes), outcomes
    # Zoom well again: the same work completes.
    assert metrics_fetch_attempt(meeting_id=meeting.pk)["status"] == "done"
    assert tenant_directory_sync_attempt(tenant_id=tenant.pk)["status"] == "done"
    meeting.refresh_from_db()
    assert meeting.participants.count() == 12
    assert state_of(tenant) == ConnectionState.CONNECTED
    record_figures("zoom_429_5xx_slow", {
        "failed_attempts_during_faults": len(outcomes), "outcomes": sorted(set(outcomes)),
        "completed_after_faults": 2, "tenants_marked_for_reauthorization": 0,
        "participants_stored": meeting.participants.count(), "lost": 0})


def test_refresh_answer_lost_after_rotation_marks_reauthorization_once_without_a_loop(
        zoom, caplog):
    from zoom_integration.oauth import access_token_get, tokens_refresh_due

    tenant = connected_tenant(zoom, expires_in=10)  # due for refresh
    # Zoom rotates the pair, but its answer arrives after the portal gave up (read timeout).
    zoom.set_faults(path_prefix="/oauth/", delay=1.5, delay_next=1)
    with pytest.raises(ZoomTransientError):
        access_token_get(tenant=tenant)
    time.sleep(1.2)  # the sandbox finishes the refresh the portal no longer waits for
    assert zoom.token_calls(tenant.client_id).get("refresh_token", 0) == 1
    assert state_of(tenant) == ConnectionState.CONNECTED  # a timeout alone proves nothing

    caplog.set_level(logging.INFO)
    # The next try sends the refresh token Zoom has already rotated away: invalid_grant.
    with pytest.raises(ReauthorizationRequiredError):
        access_token_get(tenant=tenant)
    conn = ZoomConnection.objects.get(tenant=tenant)
    assert conn.state == ConnectionState.NEEDS_REAUTH
    assert conn.access_token == "" and conn.refresh_token == ""
    alerts = [r for r in caplog.records if r.levelno >= logging.WARNING
              and tenant.slug in r.getMessage() and "re-authoriz" in r.getMessage()]
    assert alerts, [r.getMessage() for r in caplog.records]

    # No loop: callers and the scheduled refresh stop at the mark, and Zoom hears nothing more.
    calls_before = dict(zoom.token_calls(tenant.client_id))
    for _ in range(5):
        with pytest.raises(ReauthorizationRequiredError):
            access_token_get(tenant=tenant)
    assert tokens_refresh_due(within_seconds=3600) == {"refreshed": 0, "reauth": 0, "failed": 0}
    assert zoom.token_calls(tenant.client_id) == calls_before
    record_figures("refresh_answer_lost", {
        "refresh_calls_to_zoom": calls_before.get("refresh_token", 0),
        "tenant_state": conn.state, "alerts_logged": len(alerts),
        "refresh_calls_after_the_mark": 0})
