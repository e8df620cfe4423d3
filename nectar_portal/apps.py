"""App configs that give framework apps staff-readable names, and install `PortalAdminSite`.

Django names an app's box, breadcrumb and page title after its AppConfig.verbose_name; for
third-party apps that is "AXES", "OTP_TOTP" or "Periodic Tasks". Subclassing the app's own
config and listing the subclass in INSTALLED_APPS (Django's documented way) renames them
without touching their labels, tables or migrations.
"""

from axes.apps import AppConfig as AxesConfig
from django.contrib.admin.apps import AdminConfig
from django.contrib.auth.apps import AuthConfig
from django_celery_beat.apps import BeatConfig
from django_otp.plugins.otp_totp.apps import DefaultConfig as TOTPConfig


class PortalAdminConfig(AdminConfig):
    default_site = "nectar_portal.admin_site.PortalAdminSite"


class StaffAccountsConfig(AuthConfig):
    verbose_name = "Staff accounts"


class LoginThrottlingConfig(AxesConfig):
    verbose_name = "Login throttling"


class TwoFactorDevicesConfig(TOTPConfig):
    verbose_name = "Two-factor devices"


class SchedulingConfig(BeatConfig):
    verbose_name = "Scheduling"
