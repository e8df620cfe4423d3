from django.apps import AppConfig


class PortalSecurityConfig(AppConfig):
    name = "portal_security"
    verbose_name = "Staff access"

    def ready(self):
        # The admin login asks for a one-time code only from staff who have a confirmed device
        # (portal_security.otp). AdminSite.login_form / login_template are Django's documented
        # hooks; setting them here keeps nectar_portal/urls.py on the default `admin.site`.
        from django.conf import settings
        from django.contrib import admin

        from . import checks  # noqa: F401  (registers the start-up checks)

        if getattr(settings, "PORTAL_ADMIN_OTP", True):
            from .otp import ADMIN_LOGIN_TEMPLATE, AdminOTPLoginForm

            admin.site.login_form = AdminOTPLoginForm
            admin.site.login_template = ADMIN_LOGIN_TEMPLATE
