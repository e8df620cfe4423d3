"""The account overview: Zoom's own view of a tenant's account, fetched daily and on demand.

With the scope "View overview of usage statistics for Meetings and Zoom Rooms" (classic
`dashboard_home:read:admin`), Zoom's Dashboard answers what an administrator looks at first:
- `GET /metrics/quality?from&to`: counts of good, fair, poor and bad audio, video and screen
  share, asked one day at a time so the page can draw quality per day;
- `GET /metrics/client_versions`: the client versions in use, with counts;
- `GET /metrics/zoomrooms`: the Zoom Rooms with their status, health and issues;
- `GET /metrics/issues/zoomrooms` and `GET /metrics/zoomrooms/issues`: the top rooms with
  issues and the top issues.
(https://developers.zoom.us/docs/api/accounts/#tag/dashboards)

Owns `overview_fetch` (each section stored as Zoom answered it, or the section's error:
missing scope, no Dashboard on the plan, rate limited; a failed section keeps its previous
answer), `overview_display` (what the admin page shows, tolerant of missing keys and unknown
quality levels) and the beat fan-out. Nothing else reads or writes these rows: a tenant
without the scope or the Dashboard loses this page's numbers and nothing else.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import queueing
from .client import ZoomClient
from .exceptions import (
    ReauthorizationRequiredError,
    ZoomAPIError,
    ZoomDashboardUnavailableError,
    ZoomError,
    ZoomRateLimitedError,
)
from .models import ConnectionState, ZoomConnection
from .models.reconcile import ZoomAccountOverview
from .zoom import CODE_SCOPE_MISSING

logger = logging.getLogger(__name__)

SECTIONS = ("quality", "client_versions", "zoom_rooms", "top_rooms", "top_issues")
QUALITY_STREAMS = (("audio", "Audio"), ("video", "Video"), ("screen_share", "Screen share"))
QUALITY_LEVELS = ("good", "fair", "poor", "bad")
MAX_ROOMS = 3000  # ten pages of 300: the page lists rooms, it is not an inventory


def overview_days() -> int:
    return max(1, min(30, int(getattr(settings, "ZOOM_OVERVIEW_DAYS", 7))))


def overview_interval() -> timedelta:
    return timedelta(hours=int(getattr(settings, "ZOOM_OVERVIEW_INTERVAL_HOURS", 24)))


def _error(exc: Exception) -> dict:
    code = getattr(exc, "code", None)
    if isinstance(exc, ZoomDashboardUnavailableError):
        kind = "no_dashboard"
    elif code == CODE_SCOPE_MISSING:
        kind = "missing_scope"
    elif isinstance(exc, ZoomRateLimitedError):
        kind = "rate_limited"
    elif isinstance(exc, ReauthorizationRequiredError):
        kind = "not_connected"
    else:
        kind = "error"
    return {"kind": kind, "message": str(exc)[:500], "code": code}


def _fetch_section(client: ZoomClient, name: str, *, days: int, today: date) -> Any:
    window = {"date_from": today - timedelta(days=days), "date_to": today}
    if name == "quality":
        per_day = {}
        for offset in range(days, 0, -1):  # whole days only: today is not over yet
            day = today - timedelta(days=offset)
            per_day[day.isoformat()] = client.quality_scores(date_from=day, date_to=day)
        return per_day
    if name == "client_versions":
        return client.client_versions()
    if name == "zoom_rooms":
        rooms: list = []
        for page in client.zoom_rooms_pages():
            found = page.get("zoom_rooms")
            rooms.extend(found if isinstance(found, list) else [])
            if len(rooms) >= MAX_ROOMS:
                break
        return {"zoom_rooms": rooms[:MAX_ROOMS]}
    if name == "top_rooms":
        return client.zoom_rooms_top(**window)
    return client.zoom_rooms_top_issues(**window)


def overview_fetch(*, tenant, client: ZoomClient | None = None) -> dict:
    """Fetches every section now and stores it; returns a summary for the command's JSON.

    {"tenant", "fetched_at", "sections": {name: "ok" or error kind}, "quality_days",
    "client_versions", "zoom_rooms", "top_rooms", "top_issues", "api_calls"}.
    Zoom's refusals are recorded per section, never raised.
    """
    days = overview_days()
    today = datetime.now(UTC).date()
    own_client = client is None
    client = client or ZoomClient(tenant)
    answers: dict[str, Any] = {}
    errors: dict[str, dict] = {}
    stop: dict | None = None
    try:
        for name in SECTIONS:
            if stop is not None:  # the same refusal would come back: do not spend calls on it
                errors[name] = stop
                continue
            try:
                answers[name] = _fetch_section(client, name, days=days, today=today)
            except (ZoomError, ReauthorizationRequiredError) as exc:
                errors[name] = _error(exc)
                if errors[name]["kind"] in ("no_dashboard", "rate_limited", "not_connected") \
                        or (isinstance(exc, ZoomAPIError) and exc.status == 401):
                    stop = errors[name]
    finally:
        calls = client.calls
        if own_client:
            client.close()
    now = timezone.now()
    with transaction.atomic():
        overview, _ = ZoomAccountOverview.objects.select_for_update().get_or_create(
            tenant=tenant)
        for name, answer in answers.items():
            setattr(overview, name, answer if isinstance(answer, dict) else {})
        overview.errors = errors
        overview.fetched_at = now
        overview.days = days
        overview.api_calls = calls
        overview.save()
    display = overview_display(overview=overview)
    return {
        "tenant": tenant.slug, "fetched_at": now.isoformat(),
        "sections": {name: errors[name]["kind"] if name in errors else "ok"
                     for name in SECTIONS},
        "quality_days": len(display.quality_days), "client_versions": len(display.versions),
        "zoom_rooms": len(display.rooms), "top_rooms": len(display.top_rooms),
        "top_issues": len(display.top_issues), "api_calls": calls,
    }


# --- what the page shows ---------------------------------------------------------------------

def _count(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _version_key(text: str) -> tuple:
    numbers = [int(n) for n in re.findall(r"\d+", text)]
    return (bool(numbers), numbers)


@dataclass
class QualityDay:
    day: date
    counts: dict[str, dict[str, int | None]]  # stream -> level -> count


@dataclass
class OverviewDisplay:
    fetched_at: datetime | None = None
    days: int = 0
    levels: list[str] = field(default_factory=list)
    quality_days: list[QualityDay] = field(default_factory=list)
    versions: list[dict] = field(default_factory=list)
    rooms: list[dict] = field(default_factory=list)
    top_rooms: list[dict] = field(default_factory=list)
    top_issues: list[dict] = field(default_factory=list)
    errors: dict[str, dict] = field(default_factory=dict)

    @property
    def quality_rows(self) -> list[tuple[date, list[str]]]:
        """Per day, per stream: the counts in `levels` order, "?" where Zoom sent none."""
        return [(d.day, [" / ".join("?" if d.counts.get(stream, {}).get(level) is None
                                    else str(d.counts[stream][level]) for level in self.levels)
                         for stream, _label in QUALITY_STREAMS])
                for d in self.quality_days]

    def notice(self, section: str) -> str:
        """One sentence for staff when a section could not be fetched."""
        error = self.errors.get(section)
        if not isinstance(error, dict):
            return ""
        return ERROR_TEXT.get(error.get("kind"), ERROR_TEXT["error"])


ERROR_TEXT = {
    "missing_scope": "Zoom refused this: the app's authorization lacks the scope \"View "
                     "overview of usage statistics for Meetings and Zoom Rooms\". The customer "
                     "adds it to the app and authorizes again.",
    "no_dashboard": "This Zoom account's plan has no Dashboard (Business or higher with the "
                    "Dashboard enabled), so Zoom has no overview to give.",
    "rate_limited": "Zoom's rate limit was reached; the next daily fetch tries again.",
    "not_connected": "The tenant is not connected to Zoom.",
    "error": "Zoom did not answer this section; the next daily fetch tries again.",
}


def _quality_days(raw, levels: list[str]) -> list[QualityDay]:
    out = []
    for day_text, answer in sorted((raw or {}).items() if isinstance(raw, dict) else []):
        try:
            day = date.fromisoformat(str(day_text))
        except ValueError:
            continue
        quality = answer.get("quality") if isinstance(answer, dict) else None
        quality = quality if isinstance(quality, dict) else {}
        counts: dict[str, dict[str, int | None]] = {}
        for stream, _label in QUALITY_STREAMS:
            values = quality.get(stream)
            values = values if isinstance(values, dict) else {}
            for level in values:
                if isinstance(level, str) and level not in levels:
                    levels.append(level)  # an unknown level is shown, after the known ones
            counts[stream] = {level: _count(values.get(level)) for level in values
                              if isinstance(level, str)}
        out.append(QualityDay(day=day, counts=counts))
    return out


def overview_display(*, overview: ZoomAccountOverview | None) -> OverviewDisplay:
    """The stored answers as far as they go: odd shapes are skipped, never an error."""
    if overview is None:
        return OverviewDisplay()
    levels = list(QUALITY_LEVELS)
    display = OverviewDisplay(fetched_at=overview.fetched_at, days=overview.days,
                              errors=overview.errors if isinstance(overview.errors, dict)
                              else {})
    display.quality_days = _quality_days(overview.quality, levels)
    display.levels = levels

    versions = (overview.client_versions or {}).get("client_versions") \
        if isinstance(overview.client_versions, dict) else None
    rows = []
    for item in versions if isinstance(versions, list) else []:
        if not isinstance(item, dict):
            continue
        version = str(item.get("client_version") or item.get("version") or "").strip()
        if not version:
            continue
        rows.append({"version": version[:64], "count": _count(item.get("total_count")),
                     "oldest": False})
    rows.sort(key=lambda r: _version_key(r["version"]), reverse=True)
    numbered = [r for r in rows if _version_key(r["version"])[0]]
    if len(numbered) > 1:
        oldest = min(_version_key(r["version"]) for r in numbered)
        for row in numbered:
            row["oldest"] = _version_key(row["version"]) == oldest
    display.versions = rows

    rooms = (overview.zoom_rooms or {}).get("zoom_rooms") \
        if isinstance(overview.zoom_rooms, dict) else None
    for room in rooms if isinstance(rooms, list) else []:
        if not isinstance(room, dict):
            continue
        issues = room.get("issues")
        if isinstance(issues, list):
            issues = ", ".join(str(i) for i in issues if i not in (None, ""))
        display.rooms.append({
            "name": str(room.get("room_name") or room.get("name") or room.get("id") or "—"),
            "status": str(room.get("status") or "—"),
            "health": str(room.get("health") or "—"),
            "issues": str(issues or "")})
    display.rooms.sort(key=lambda r: (r["health"].lower() in ("", "—", "healthy"), r["name"]))

    top = (overview.top_rooms or {}).get("zoom_rooms") \
        if isinstance(overview.top_rooms, dict) else None
    display.top_rooms = [
        {"name": str(r.get("room_name") or r.get("name") or r.get("id") or "—"),
         "issues": _count(r.get("issues_count"))}
        for r in (top if isinstance(top, list) else []) if isinstance(r, dict)]
    issues = (overview.top_issues or {}).get("issues") \
        if isinstance(overview.top_issues, dict) else None
    display.top_issues = [
        {"name": str(i.get("issue_name") or i.get("name") or "—"),
         "rooms": _count(i.get("zoom_rooms_count"))}
        for i in (issues if isinstance(issues, list) else []) if isinstance(i, dict)]
    return display


# --- beat and task ---------------------------------------------------------------------------

def overview_queue(*, tenant_id: int) -> None:
    """Queues one tenant's fetch; the next beat tries again if the message is lost."""
    queueing.overview_enqueue(tenant_id=tenant_id)


def overview_due_enqueue(*, now: datetime | None = None) -> int:
    """Beat: queues each connected tenant whose overview is older than a day; returns how many."""
    now = now or timezone.now()
    tenant_ids = list(ZoomConnection.objects.filter(
        state=ConnectionState.CONNECTED, tenant__is_active=True
    ).values_list("tenant_id", flat=True))
    fresh = set(ZoomAccountOverview.objects.filter(
        tenant_id__in=tenant_ids, fetched_at__gt=now - overview_interval()
    ).values_list("tenant_id", flat=True))
    due = [t for t in tenant_ids if t not in fresh]
    for tenant_id in due:
        transaction.on_commit(lambda t=tenant_id: overview_queue(tenant_id=t), robust=True)
    return len(due)


def overview_tenant_attempt(*, tenant_id: int) -> dict:
    from tenants.models import Tenant

    tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
    if tenant is None:
        return {"status": "skipped"}
    summary = overview_fetch(tenant=tenant)
    return {"status": "done", "sections": summary["sections"]}
