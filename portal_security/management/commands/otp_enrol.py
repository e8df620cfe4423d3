"""`otp_enrol USERNAME`: give a staff user a confirmed TOTP device and print its otpauth:// URI.

For the first superuser, who must use a second factor to sign in (PORTAL_SUPERUSER_OTP_REQUIRED)
and so cannot add a device in the admin first. Whoever runs this on the server sees the secret
once, in the URI: add it to an authenticator app (most accept the URI or its QR code).
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = "Add a confirmed TOTP device for a staff user and print its otpauth:// URI once."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="authenticator", help="The device's name.")

    def handle(self, *args, username, name, **options):
        user = get_user_model().objects.filter(username=username, is_staff=True).first()
        if user is None:
            raise CommandError(f"no staff user named '{username}'")
        device = TOTPDevice.objects.create(user=user, name=name, confirmed=True)
        self.stdout.write(f"TOTP device '{name}' added for {username}. Add this to an "
                          "authenticator app now; it is not shown again:")
        self.stdout.write(device.config_url)
