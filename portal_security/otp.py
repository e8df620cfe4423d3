"""Two-factor sign-in for staff (django-otp, TOTP devices): required for superusers.

A staff user who has a CONFIRMED TOTP device must give a code at the admin login, and a
session of such a user that was not verified by a code (e.g. signed in before the device was
added) is signed out of the admin. Superusers can change everything, grants included: with
PORTAL_SUPERUSER_OTP_REQUIRED (on by default when DJANGO_DEBUG is off) they cannot sign in
without a device at all. Other staff without a device sign in with their password alone. This
is django-otp's `OTPAdminSite` behaviour, without swapping the admin site in urls.py.

Enrol a user: a superuser adds a "TOTP device" for them in the admin (OTP_TOTP section), hands
over its QR code, and ticks "confirmed" once the user has typed one valid code. The first
superuser enrols from a shell: `manage.py otp_enrol USERNAME` prints the otpauth:// URI.
"""

from __future__ import annotations

from urllib.parse import quote

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import logout
from django.http import HttpResponseRedirect
from django.urls import NoReverseMatch, reverse
from django_otp import devices_for_user, user_has_device
from django_otp.forms import OTPAuthenticationFormMixin

ADMIN_LOGIN_TEMPLATE = "portal_security/admin_login.html"


def superuser_needs_otp(user) -> bool:
    return bool(user.is_superuser and settings.PORTAL_SUPERUSER_OTP_REQUIRED)


def user_requires_otp(user) -> bool:
    return bool(user.is_authenticated and (superuser_needs_otp(user)
                                           or user_has_device(user, confirmed=True)))


class AdminOTPLoginForm(OTPAuthenticationFormMixin, AdminAuthenticationForm):
    """Password, then (only for users with a confirmed device) a one-time code."""

    otp_device = forms.CharField(required=False, widget=forms.Select)
    otp_token = forms.CharField(
        required=False, label="Authentication code",
        help_text="Only if you have set up two-factor sign-in: the 6 digits from your app.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))
    otp_challenge = forms.CharField(required=False)

    otp_error_messages = dict(
        OTPAuthenticationFormMixin.otp_error_messages,
        token_required="Enter the code from your authenticator app.",  # noqa: S106
        invalid_token="That code is not valid. Check your device's clock and try again.",  # noqa: S106
    )

    def clean(self):
        self.cleaned_data = super().clean()
        user = self.get_user()
        if user is not None and user_requires_otp(user):
            if not user_has_device(user, confirmed=True):
                raise forms.ValidationError(
                    "Superusers must sign in with a second factor, and this account has no "
                    "authenticator set up. Ask another superuser to add one, or run "
                    "'manage.py otp_enrol <username>' on the server.", code="otp_required")
            self.clean_otp(user)
        return self.cleaned_data

    def _chosen_device(self, user):
        # One confirmed device (the usual case): use it, so the login is a single submit.
        device = super()._chosen_device(user)
        if device is None:
            devices = list(devices_for_user(user, confirmed=True))
            if len(devices) == 1:
                return devices[0]
        return device


class AdminOTPRequiredMiddleware:
    """Signs out of the admin any staff session with a confirmed device but no verified code.

    Goes after django_otp.middleware.OTPMiddleware (which sets `user.is_verified()`).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            admin_root = reverse("admin:index")
        except NoReverseMatch:  # a URLconf without the admin (some tests)
            return self.get_response(request)
        path = request.path_info
        if path.startswith(admin_root):
            user = request.user
            if (user.is_authenticated and not user.is_verified()
                    and user_requires_otp(user)):
                logout(request)
                login_url = reverse("admin:login")
                if path != login_url and path != reverse("admin:logout"):
                    return HttpResponseRedirect(f"{login_url}?next={quote(path)}")
        return self.get_response(request)
