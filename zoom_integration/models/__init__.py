"""Zoom-side records of each tenant, one module per concern."""

from .connection import ConnectionState, ZoomConnection
from .directory import SyncRun, ZoomGroup, ZoomGroupMembership, ZoomUser
from .metrics import MeetingKind, QosSample, ZoomMeeting, ZoomMeetingPerson, ZoomParticipant
from .qos import QosMinute
from .usage import ApiUsage
from .webhooks import DeliveryStatus, WebhookRejection, ZoomWebhookDelivery

__all__ = [
    "ApiUsage", "ConnectionState", "DeliveryStatus", "MeetingKind", "QosMinute", "QosSample",
    "SyncRun", "WebhookRejection", "ZoomConnection", "ZoomGroup", "ZoomGroupMembership",
    "ZoomMeeting", "ZoomMeetingPerson", "ZoomParticipant", "ZoomUser", "ZoomWebhookDelivery",
]
from .operator import TenantHealth  # noqa: E402,F401  (operator pages' proxy model)
from .reconcile import (  # noqa: E402,F401
    ReconcileStatus,
    ZoomAccountOverview,
    ZoomReconcileState,
)
