"""``manage.py zoom_sandbox``: runs the Zoom sandbox, or sends one event, or plays a scenario.

Thin: the arguments and the work live in ``zoom_sandbox.cli``, which imports nothing
from Django or the portal (the two meet over HTTP only).
"""

from django.core.management.base import BaseCommand, CommandError

from zoom_sandbox import cli


class Command(BaseCommand):
    help = (
        "Runs a local stand-in for Zoom (OAuth, REST /v2, webhooks). "
        "'zoom_sandbox send EVENT --to URL --secret-token T' delivers one event; "
        "'zoom_sandbox scenario --to URL --secret-token T' plays a day of activity."
    )
    requires_system_checks = []  # the sandbox needs no database or portal settings

    def add_arguments(self, parser):
        cli.add_arguments(parser)

    def handle(self, *args, **options):
        try:
            code = cli.run(options, self.stdout._out)
        except cli.CliError as exc:
            raise CommandError(str(exc), returncode=exc.code) from None
        if code:
            raise CommandError("the endpoint did not answer as Zoom requires", returncode=code)
