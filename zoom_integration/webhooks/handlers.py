"""What each Zoom event does: the event type → handler registry of webhook processing.

A handler gets the tenant, the event type and the stored envelope, and calls one service. It
runs inside the processing transaction, so its writes commit together with the "processed"
mark. Event types without a handler are stored and marked ignored. The events and their
payloads: https://developers.zoom.us/docs/api/rest/reference/user/events/ (user.* and group.*),
https://developers.zoom.us/docs/api/meetings/events/ (meeting.ended, webinar.ended) and
https://developers.zoom.us/docs/api/rest/webhook-reference/#app-deauthorized.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tenants.models import Tenant

from .. import zoom
from ..directory import zoom_group_event_apply, zoom_user_event_apply
from ..metrics import meeting_ended_record
from ..oauth import connection_deauthorize


def _payload(envelope: Mapping[str, Any]) -> dict[str, Any]:
    payload = envelope.get("payload")
    return payload if isinstance(payload, dict) else {}


def _event_ts(envelope: Mapping[str, Any]) -> int | None:
    value = envelope.get("event_ts", _payload(envelope).get("event_ts"))
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _user_event(*, tenant: Tenant, event: str, envelope: Mapping[str, Any]) -> None:
    # user.updated carries a partial patch and maybe `old_object`: the directory decides.
    zoom_user_event_apply(tenant=tenant, event=event, payload=_payload(envelope),
                          event_ts=_event_ts(envelope))


def _group_event(*, tenant: Tenant, event: str, envelope: Mapping[str, Any]) -> None:
    zoom_group_event_apply(tenant=tenant, event=event, payload=_payload(envelope))


def _meeting_ended(*, tenant: Tenant, event: str, envelope: Mapping[str, Any]) -> None:
    meeting_ended_record(tenant=tenant, kind="meeting", payload=_payload(envelope))


def _webinar_ended(*, tenant: Tenant, event: str, envelope: Mapping[str, Any]) -> None:
    meeting_ended_record(tenant=tenant, kind="webinar", payload=_payload(envelope))


def _app_deauthorized(*, tenant: Tenant, event: str, envelope: Mapping[str, Any]) -> None:
    connection_deauthorize(tenant=tenant, payload=_payload(envelope))


# Event type → handler. Any other event is stored and marked ignored.
WEBHOOK_HANDLERS: dict[str, Callable[..., None]] = {
    **{event: _user_event for event in zoom.USER_EVENTS},
    **{event: _group_event for event in zoom.GROUP_EVENTS},
    zoom.MEETING_ENDED: _meeting_ended,
    zoom.WEBINAR_ENDED: _webinar_ended,
    zoom.APP_DEAUTHORIZED: _app_deauthorized,
}
