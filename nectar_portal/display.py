"""How staff pages write values built in Python, not a template: moments in time, counts.

Moments use the same format as templates and admin columns (nectar_portal/formats/en/formats.py),
in the current time zone, with the zone's name: "2026-11-30 14:05 UTC".
"""

from __future__ import annotations

import datetime as dt

from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import ngettext


def when(value: dt.datetime | None, *, default: str = "—") -> str:
    """The moment as text, or `default` when there is none."""
    if value is None:
        return default
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return formats.date_format(value, "DATETIME_FORMAT")


def when_html(value: dt.datetime | None, *, default: str = "—"):
    """The same text in a <time> element carrying the exact ISO 8601 moment."""
    if value is None:
        return default
    return format_html('<time datetime="{}">{}</time>', value.isoformat(), when(value))


def truncated(text: str | None, *, em: int = 20, default: str = "—"):
    """Long text cut to one line of about `em` characters' width, the whole of it on hover
    (the title attribute) and for screen readers (the text is all there, only clipped)."""
    if not text:
        return default
    return format_html('<span class="portal-trunc" style="max-width: {}em" title="{}">{}</span>',
                       em, text, text)


def from_epoch_ms(value: int | None) -> dt.datetime | None:
    """Zoom's millisecond timestamps (event_ts) as an aware datetime; None when unusable."""
    if value is None:
        return None
    try:
        return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def counted(count: int, singular: str, plural: str) -> str:
    """The count with its noun in the right form: "1 webhook delivery", "3 webhook deliveries"."""
    return f"{count} {ngettext(singular, plural, count)}"
