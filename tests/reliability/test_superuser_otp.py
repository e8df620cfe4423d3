"""Superusers sign in with a second factor when debug is off (PORTAL_SUPERUSER_OTP_REQUIRED)."""

import io

import pytest
from django.core.management import call_command
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from nectar_portal.settings import base as base_settings

from .test_admin_hardening import code_for, login, staff, totp_device

pytestmark = pytest.mark.django_db


@pytest.fixture
def required(settings):
    settings.PORTAL_SUPERUSER_OTP_REQUIRED = True
    return settings


def test_required_by_default_with_debug_off():
    assert base_settings.DEBUG is False
    assert base_settings.PORTAL_SUPERUSER_OTP_REQUIRED is True


def test_a_superuser_without_a_device_cannot_sign_in(required):
    staff("root", superuser=True)
    client = Client()
    response = login(client, "root")
    assert response.status_code == 200
    assert "Superusers must sign in with a second factor" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_other_staff_without_a_device_still_sign_in_with_a_password(required):
    staff("alice", perms=("view_tenant",))
    assert login(Client(), "alice").status_code == 302


def test_a_superuser_with_a_device_signs_in_with_a_code(required):
    device = totp_device(staff("root", superuser=True))
    client = Client()
    assert login(client, "root", otp_token=code_for(device)).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_an_unverified_superuser_session_is_signed_out(required):
    client = Client()
    client.force_login(staff("root", superuser=True))
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_otp_enrol_gives_the_first_superuser_a_device(required):
    staff("root", superuser=True)
    out = io.StringIO()
    call_command("otp_enrol", "root", stdout=out)
    assert "otpauth://totp/" in out.getvalue()
    device = TOTPDevice.objects.get(user__username="root")
    assert device.confirmed
    client = Client()
    assert login(client, "root", otp_token=code_for(device)).status_code == 302
