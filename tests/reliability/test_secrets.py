"""Secrets in clear: none in the database, the logs, admin pages or error reports.

`test_no_secret_in_clear_anywhere` runs last in the session (conftest.py moves it). It scans,
for every secret and token the suite used (the ledger, audit.py):
- the text columns of the database at the end of each reliability test, and `pg_dump` of the
  fault tests' own databases;
- every log record of the whole session (root handler attached before the first test) and the
  output of the web server and worker processes the fault tests ran;
- the admin pages and error reports the tests below and in test_admin_hardening.py kept.
"""

from __future__ import annotations

import contextlib
import secrets
import sys
from datetime import timedelta
from urllib.parse import quote

import pytest
import responses
from django.contrib import admin
from django.core.signals import got_request_exception
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from portal_security.reporting import PortalExceptionReporter
from tests.factories import TenantFactory
from zoom_integration.models import ConnectionState, ZoomConnection, ZoomWebhookDelivery

from .audit import AUDIT_DIR, HANDLER, LEDGER, record_artifact, scan
from .zoomsign import compact, signed_headers

pytestmark = pytest.mark.django_db


def connected_tenant():
    tenant = TenantFactory(verification_token="VerifTok" + secrets.token_hex(10),
                           zoom_account_id="AcctSecrets1")
    ZoomConnection.objects.create(
        tenant=tenant, state=ConnectionState.CONNECTED,
        access_token="AccessTok" + secrets.token_hex(16),
        refresh_token="RefreshTok" + secrets.token_hex(16),
        access_token_expires_at=timezone.now() + timedelta(hours=1), scopes="user:read:admin")
    return tenant


def test_the_ledger_collects_tenant_secrets_and_tokens_by_itself():
    tenant = connected_tenant()
    conn = tenant.zoom_connection
    values = LEDGER.values()
    for secret in (tenant.client_secret, tenant.secret_token, tenant.verification_token,
                   conn.access_token, conn.refresh_token):
        assert secret in values


def test_the_scan_finds_a_planted_secret_in_every_form():
    planted = "PlantedSecret/" + secrets.token_hex(8) + "+="
    found = scan({"log": f"token={planted}", "url": f"?code={quote(planted, safe='')}",
                  "json": '{"t": "' + planted.replace("/", "\\/") + '"}'}, {planted})
    assert len(found) == 2  # as is, and URL-encoded (JSON's "\/" escape is optional: not made)
    assert scan({"clean": "nothing here"}, {planted}) == []


def test_the_log_collector_is_attached_to_the_root_logger():
    import logging

    assert HANDLER in logging.getLogger().handlers
    logging.getLogger("tests.reliability").warning("collector check %s", "ok")
    assert HANDLER.lines[-1].endswith("collector check ok")


def test_every_admin_page_of_a_connected_tenant_keeps_its_secrets(admin_client):
    tenant = connected_tenant()
    body = compact({"event": "user.created", "event_ts": 1, "payload": {
        "account_id": "AcctSecrets1", "object": {"id": "u1", "email": "u1@example.com"}}})
    response = Client().post("/zoom/event", body, content_type="application/json",
                             headers={"host": tenant.domains.get().domain,
                                      **signed_headers(tenant.secret_token, body)})
    assert response.status_code == 200
    pages = 0
    for model in list(admin.site._registry):
        opts = model._meta
        try:
            urls = [reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")]
        except NoReverseMatch:
            continue
        first = model._default_manager.first()
        if first is not None:
            with contextlib.suppress(NoReverseMatch):
                urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_change",
                                    args=[first.pk]))
        for url in urls:
            page = admin_client.get(url)
            assert page.status_code < 500, url
            record_artifact("admin", url, page.content)
            pages += 1
    assert pages >= 10
    assert ZoomWebhookDelivery.objects.filter(tenant=tenant).count() == 1


def test_an_error_during_the_oauth_callback_reports_no_code_or_token(settings):
    """A crash after Zoom issued tokens: the 500 report (as mailed to admins) hides them."""
    tenant = TenantFactory()
    access, refresh = "CrashAccess" + secrets.token_hex(12), "CrashRefresh" + secrets.token_hex(12)
    code = "CrashCode" + secrets.token_hex(10)
    LEDGER.add(access, refresh, code)
    client = Client(raise_request_exception=False)
    state_response = client.get("/adminapi/zoom/oauth/start",
                                headers={"host": tenant.domains.get().domain})
    state = state_response["Location"].split("state=")[1].split("&")[0]
    LEDGER.add(state)
    reports = []

    def keep_report(sender, request, **kwargs):
        reporter = PortalExceptionReporter(request, *sys.exc_info(), is_email=True)
        reports.append(reporter.get_traceback_text())
        reports.append(reporter.get_traceback_html())

    got_request_exception.connect(keep_report)
    try:
        with responses.RequestsMock() as mock:
            mock.add(responses.POST, "https://zoom.us/oauth/token", json={
                "access_token": access, "token_type": "bearer", "refresh_token": refresh,
                "expires_in": 3599, "scope": "user:read:admin", "api_url": "https://api.zoom.us"})
            # Not a network error: a bug-shaped crash while tokens are in local variables.
            mock.add(responses.GET, "https://api.zoom.us/v2/users/me",
                     body=RuntimeError("unexpected crash"))
            response = client.get("/adminapi/zoom/oauth/authorize",
                                  {"code": code, "state": state},
                                  headers={"host": tenant.domains.get().domain})
    finally:
        got_request_exception.disconnect(keep_report)
    if response.status_code == 500:
        assert reports, "a 500 without an error report"
    for n, report in enumerate(reports):
        record_artifact("error-reports", f"oauth-crash-{n}", report)
        for secret in (access, refresh, code, tenant.client_secret):
            assert secret not in report


def test_no_secret_in_clear_anywhere():
    """Runs last in the session (conftest.py): everything the suite wrote, scanned."""
    secrets_used = LEDGER.values()
    assert len(secrets_used) >= 10, "the ledger is nearly empty: the scan would prove nothing"
    texts = {"session log": "\n".join(HANDLER.lines)}
    for path in sorted(AUDIT_DIR.rglob("*.txt")) + sorted(AUDIT_DIR.rglob("*.log")):
        texts[str(path.relative_to(AUDIT_DIR))] = path.read_text("utf-8", errors="replace")
    kinds = {name.split("/")[0] for name in texts}
    findings = scan(texts, secrets_used)
    record_artifact("scan", "summary", f"{len(secrets_used)} secrets, {len(texts)} texts, "
                                       f"kinds {sorted(kinds)}, findings {len(findings)}")
    assert findings == [], findings
