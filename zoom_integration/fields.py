"""Readers for fields of Zoom's JSON: foreign input made safe for our columns.

Every value Zoom sends may be missing, of another type, too long or hold characters
PostgreSQL refuses; these readers never raise, and return what the column can hold. The
directory sync, the dashboard fetch and the QoS parser all read Zoom data through them.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime


def text(value: Any, limit: int) -> str:
    """A string of at most `limit` characters; "" for None. NUL is dropped (PostgreSQL text
    cannot hold it)."""
    if value is None:
        return ""
    return str(value).replace("\x00", "")[:limit]


def small_int(value: Any) -> int | None:
    """An integer that fits a PostgreSQL smallint and is not negative, else None."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 <= number <= 32767 else None


def int_or_zero(value: Any) -> int:
    """An integer, or 0 when the value is not one."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def aware_datetime(value: Any) -> datetime | None:
    """An ISO 8601 time (Zoom sends UTC, e.g. "2024-05-01T10:00:00Z") as an aware datetime;
    None when missing or unreadable. A time without zone is taken as UTC."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def jsonable(value: Any, depth: int = 0) -> Any:
    """Raw Zoom data made safe for a JSON column (PostgreSQL refuses NaN and Infinity)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")  # nor NUL characters
    if value is None or isinstance(value, int | bool):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth < 8 and isinstance(value, dict):
        return {jsonable(str(k)): jsonable(v, depth + 1) for k, v in value.items()}
    if depth < 8 and isinstance(value, list | tuple):
        return [jsonable(v, depth + 1) for v in value]
    return str(value)
