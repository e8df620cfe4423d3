"""Admin hardening: login throttling, optional two-factor, per-tenant staff access,
error reports without OAuth secrets, and production settings that pass `check --deploy`."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission, User
from django.test import Client, RequestFactory
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal_security.access import tenant_access_grant, tenants_visible_to
from portal_security.client_ip import client_ip_address
from portal_security.reporting import PortalExceptionReporter
from tests.factories import TenantFactory

from .audit import record_artifact

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple-42"  # noqa: S105


def staff(username="alice", *, superuser=False, perms=()):
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True,
                                    is_superuser=superuser)
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


def login(client, username, password=PASSWORD, ip="10.0.0.1", **extra):
    return client.post("/admin/login/?next=/admin/",
                       {"username": username, "password": password, **extra},
                       REMOTE_ADDR=ip)


# --- Login throttling (django-axes) ------------------------------------------------------------

@pytest.fixture
def axes_on(settings):
    settings.AXES_ENABLED = True
    return settings


def test_five_failures_lock_the_username_and_address_pair_for_fifteen_minutes(axes_on):
    from axes.models import AccessAttempt

    staff("alice")
    client = Client()
    for _ in range(4):
        assert login(client, "alice", "wrong").status_code == 200  # the form again
    fifth = login(client, "alice", "wrong")
    assert fifth.status_code == 429  # the 5th failure locks
    # A styled page that says how long the lock lasts.
    assert "15 minutes" in fifth.content.decode() and 'id="header"' in fifth.content.decode()
    # Locked: even the right password from that address is refused, and nothing is logged in.
    locked = login(client, "alice")
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    # The pair is locked, not the user: the same user elsewhere, another user here, still work.
    assert login(Client(), "alice", ip="10.0.0.2").status_code == 302
    staff("bob")
    assert login(Client(), "bob", ip="10.0.0.1").status_code == 302

    # The cool-off is 15 minutes from the last failure: 14 minutes later still locked...
    AccessAttempt.objects.filter(username="alice", ip_address="10.0.0.1").update(
        attempt_time=timezone.now() - timedelta(minutes=14))
    assert login(Client(), "alice").status_code == 429
    # ...and 16 minutes later the right password works again.
    AccessAttempt.objects.filter(username="alice", ip_address="10.0.0.1").update(
        attempt_time=timezone.now() - timedelta(minutes=16))
    assert login(Client(), "alice").status_code == 302


def test_a_lockout_keeps_no_password_in_clear(axes_on):
    from axes.models import AccessAttempt

    staff("alice")
    guess = "Guessed-Password-7781"  # noqa: S105
    for _ in range(5):
        login(Client(), "alice", guess)
    attempt = AccessAttempt.objects.get(username="alice")
    assert guess not in attempt.post_data and guess not in attempt.get_data


def test_throttling_does_not_break_the_test_clients(axes_on, admin_client, client):
    assert admin_client.get("/admin/").status_code == 200
    user = staff("carol", superuser=True)
    client.force_login(user)
    assert client.get("/admin/").status_code == 200


def test_client_address_trusts_only_the_configured_number_of_proxies(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="10.9.9.9",
                                   HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7")
    settings.PORTAL_TRUSTED_PROXY_COUNT = 0
    assert client_ip_address(request) == "10.9.9.9"  # no proxy: the header is the client's
    settings.PORTAL_TRUSTED_PROXY_COUNT = 1
    assert client_ip_address(request) == "203.0.113.7"  # appended by our proxy
    settings.PORTAL_TRUSTED_PROXY_COUNT = 5
    assert client_ip_address(request) == "10.9.9.9"  # fewer hops than proxies: not trusted
    garbage = RequestFactory().get("/", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="evil")
    settings.PORTAL_TRUSTED_PROXY_COUNT = 1
    assert client_ip_address(garbage) == "10.9.9.9"


# --- Optional two-factor (django-otp) ---------------------------------------------------------

def totp_device(user, *, confirmed=True):
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=confirmed)


def code_for(device, offset=0):
    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits,
                 drift=offset)
    return f"{value:06d}"


def test_staff_without_a_device_sign_in_with_the_password_alone(client):
    staff("alice", superuser=True)
    assert login(client, "alice").status_code == 302
    assert client.get("/admin/").status_code == 200


def test_staff_with_a_confirmed_device_need_a_valid_code(client):
    user = staff("alice", superuser=True)
    device = totp_device(user)

    no_code = login(client, "alice")
    assert no_code.status_code == 200
    assert "Enter the code from your authenticator app." in no_code.content.decode()
    record_artifact("admin", "otp-login-no-code", no_code.content)
    wrong = login(client, "alice", otp_token="000000" if code_for(device) != "000000" else "111111")
    assert wrong.status_code == 200
    assert "_auth_user_id" not in client.session

    device.refresh_from_db()
    device.throttling_failure_count = 0
    device.throttling_failure_timestamp = None
    device.save()
    ok = login(client, "alice", otp_token=code_for(device))
    assert ok.status_code == 302, ok.content.decode()[:2000]
    assert client.get("/admin/").status_code == 200


def test_an_unconfirmed_device_does_not_lock_its_owner_out(client):
    user = staff("alice", superuser=True)
    totp_device(user, confirmed=False)
    assert login(client, "alice").status_code == 302


def test_a_session_not_verified_by_a_code_is_signed_out_once_a_device_exists(client):
    user = staff("alice", superuser=True)
    client.force_login(user)
    assert client.get("/admin/").status_code == 200
    totp_device(user)
    response = client.get("/admin/tenants/tenant/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/admin/tenants/tenant/")
    assert "_auth_user_id" not in client.session


# --- Per-tenant staff access ------------------------------------------------------------------

VIEW_CHANGE = ("view_tenant", "change_tenant", "view_tenantdomain", "change_tenantdomain")


@pytest.mark.urls("tests.reliability.admin_urls")
def test_staff_see_and_change_only_the_tenants_granted_to_them(client):
    acme, globex, initech = (TenantFactory(slug=s, name=s.title())
                             for s in ("acme", "globex", "initech"))
    user = staff("alice", perms=VIEW_CHANGE)
    tenant_access_grant(user=user, tenant=acme, can_change=True)
    tenant_access_grant(user=user, tenant=globex, can_change=False)
    client.force_login(user)

    listing = client.get("/admin/tenants/tenant/").content.decode()
    record_artifact("admin", "scoped-tenant-list", listing)
    assert "Acme" in listing and "Globex" in listing and "Initech" not in listing

    # Not granted: as if it did not exist (redirect to the index with "doesn't exist").
    assert client.get(f"/admin/tenants/tenant/{initech.pk}/change/").status_code == 302
    assert client.get(f"/admin/tenants/tenant/{initech.pk}/delete/").status_code in (302, 403)
    # View-only grant: the page shows, a change is refused.
    page = client.get(f"/admin/tenants/tenant/{globex.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert client.post(f"/admin/tenants/tenant/{globex.pk}/change/",
                       {"name": "Renamed"}).status_code == 403
    globex.refresh_from_db()
    assert globex.name == "Globex"
    # Change grant: the save button is there.
    page = client.get(f"/admin/tenants/tenant/{acme.pk}/change/").content.decode()
    assert 'name="_save"' in page
    # Related rows follow their tenant.
    domains = client.get("/admin/tenants/tenantdomain/").content.decode()
    assert "acme.portal.test" in domains and "initech.portal.test" not in domains
    other_domain = initech.domains.get()
    assert client.get(
        f"/admin/tenants/tenantdomain/{other_domain.pk}/change/").status_code == 302
    # Only superusers create tenants (a staff user could not see the one they made).
    assert client.get("/admin/tenants/tenant/add/").status_code == 403


@pytest.mark.urls("tests.reliability.admin_urls")
def test_superusers_see_every_tenant(client):
    TenantFactory(slug="acme", name="Acme")
    TenantFactory(slug="globex", name="Globex")
    client.force_login(staff("root", superuser=True))
    listing = client.get("/admin/tenants/tenant/").content.decode()
    assert "Acme" in listing and "Globex" in listing


def test_tenants_visible_to_follows_the_grants():
    acme, globex = TenantFactory(), TenantFactory()
    user = staff("alice")
    assert list(tenants_visible_to(user=user)) == []
    tenant_access_grant(user=user, tenant=acme)
    assert list(tenants_visible_to(user=user)) == [acme]
    user.is_staff = False
    user.save()
    assert list(tenants_visible_to(user=user)) == []
    assert set(tenants_visible_to(user=staff("root", superuser=True))) == {acme, globex}


def test_grants_are_managed_by_superusers_only(client):
    client.force_login(staff("alice", perms=("view_tenantaccess", "add_tenantaccess")))
    assert client.get("/admin/portal_security/tenantaccess/").status_code == 403
    client.force_login(staff("root", superuser=True))
    assert client.get("/admin/portal_security/tenantaccess/").status_code == 200


# --- Error reports ----------------------------------------------------------------------------

def test_error_reports_hide_the_oauth_code_and_state_everywhere():
    code, state = "AuthCodeSecret" + secrets.token_hex(8), "StateValue" + secrets.token_hex(8)
    request = RequestFactory().get(
        "/adminapi/zoom/oauth/authorize", {"code": code, "state": state, "lang": "en"},
        HTTP_HOST="acme.portal.test", HTTP_AUTHORIZATION="Bearer SomeBearerToken123")
    request.META["RAW_URI"] = request.get_full_path()
    try:
        raise RuntimeError("token exchange failed")
    except RuntimeError:
        reporter = PortalExceptionReporter(request, *sys.exc_info(), is_email=True)
        text, html = reporter.get_traceback_text(), reporter.get_traceback_html()
    record_artifact("error-reports", "oauth-callback.txt", text)
    record_artifact("error-reports", "oauth-callback.html", html)
    for report in (text, html):
        assert code not in report and state not in report
        assert "SomeBearerToken123" not in report
        assert "lang" in report  # the rest of the query is still there to debug with


def test_the_portal_reporter_is_the_configured_one():
    from django.views.debug import get_default_exception_reporter_filter

    assert django_settings.DEFAULT_EXCEPTION_REPORTER.endswith("PortalExceptionReporter")
    assert type(get_default_exception_reporter_filter()).__name__ == (
        "PortalExceptionReporterFilter")


# --- Production settings ----------------------------------------------------------------------

def production_env(**extra) -> dict:
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    return {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "nectar_portal.settings.production",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(64), "FIELD_ENCRYPTION_KEY": key,
            "DJANGO_ALLOWED_HOSTS": ".portal.example", **extra}


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    # A database of its own: the checks read tenants, and a developer's db.sqlite3 holds
    # secrets encrypted with their own key.
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=django_settings.BASE_DIR,
        env=production_env(DATABASE_URL=f"sqlite:///{tmp_path / 'check.sqlite3'}"),
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_cookies_are_secure_host_only_and_lax():
    probe = ("import django, json; django.setup(); from django.conf import settings as s; "
             "print(json.dumps({k: getattr(s, k) for k in ('SESSION_COOKIE_SECURE', "
             "'CSRF_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', 'CSRF_COOKIE_HTTPONLY', "
             "'SESSION_COOKIE_SAMESITE', 'CSRF_COOKIE_SAMESITE', 'SESSION_COOKIE_NAME', "
             "'CSRF_COOKIE_NAME', 'SESSION_COOKIE_AGE', 'SECURE_SSL_REDIRECT', "
             "'SECURE_HSTS_SECONDS', 'AXES_ENABLED', 'AXES_FAILURE_LIMIT')}))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=django_settings.BASE_DIR,
                            env=production_env(), capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {
        "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True, "CSRF_COOKIE_HTTPONLY": True,
        # Lax: the OAuth redirect back from zoom.us is a cross-site top-level GET.
        "SESSION_COOKIE_SAMESITE": "Lax", "CSRF_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "__Host-sessionid", "CSRF_COOKIE_NAME": "__Host-csrftoken",
        "SESSION_COOKIE_AGE": 8 * 3600, "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 30 * 24 * 3600, "AXES_ENABLED": True, "AXES_FAILURE_LIMIT": 5,
    }


def _tenant_owned(model) -> bool:
    from tenants.models import Tenant

    if issubclass(model, Tenant):
        return True
    return any(getattr(field, "related_model", None) is Tenant
               for field in model._meta.get_fields() if field.name == "tenant")


def admins_missing_tenant_scope() -> list[str]:
    from django.contrib import admin

    from portal_security.access import TenantScopedAdminMixin
    from portal_security.models import TenantAccess

    return sorted(
        f"{type(model_admin).__module__}.{type(model_admin).__name__}"
        for model, model_admin in admin.site._registry.items()
        if _tenant_owned(model) and model is not TenantAccess
        and not isinstance(model_admin, TenantScopedAdminMixin))


def test_every_admin_of_tenant_data_is_scoped_to_the_staff_users_tenants():
    assert admins_missing_tenant_scope() == []


def test_the_scope_check_sees_the_admins_already_scoped():
    missing = admins_missing_tenant_scope()
    assert "zoom_integration.admin.meetings.ZoomMeetingAdmin" not in missing
    assert any(name.endswith("ZoomTenantAdmin") for name in missing) or missing == []
