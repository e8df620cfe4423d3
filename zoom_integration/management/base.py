"""What every Zoom management command shares: bad input is one clear line and exit status 2.

Django's `BaseCommand` turns a `CommandError` raised in `handle()` into one line on stderr, but
argparse's own errors (an unknown option, a missing argument) print the whole usage text and
exit before that handling runs. `OneLineCommand` routes those through the same one line
("<command>: <message>", exit status `BAD_INPUT`), with an optional hint naming what to type.
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

BAD_INPUT = 2


class OneLineCommand(BaseCommand):
    # Appended to argparse's message, e.g. "(use --failed or --ids ID...)".
    usage_hint = ""

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        hint = f" {self.usage_hint}" if self.usage_hint else ""

        def one_line_error(message):  # argparse would print the whole usage first
            raise CommandError(f"{message}{hint}", returncode=BAD_INPUT)

        parser.error = one_line_error
        return parser

    def run_from_argv(self, argv):
        try:
            super().run_from_argv(argv)
        except CommandError as exc:  # raised while parsing, outside BaseCommand's handling
            self.stderr.write(f"{argv[1] if len(argv) > 1 else 'command'}: {exc}")
            sys.exit(exc.returncode)


def whole_number(text: str, *, option: str, unit: str, low: int = 1,
                 high: int | None = None) -> int:
    """An option's value as a whole number in [low, high], or a one-line `CommandError`."""
    try:
        number = int(text)
    except ValueError:
        raise CommandError(f"{option} must be a whole number of {unit}, not {text!r}",
                           returncode=BAD_INPUT) from None
    if high is not None and not low <= number <= high:
        raise CommandError(f"{option} must be between {low} and {high}", returncode=BAD_INPUT)
    if number < low:
        raise CommandError(f"{option} must be at least {low}", returncode=BAD_INPUT)
    return number
