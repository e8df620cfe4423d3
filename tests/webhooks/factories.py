"""Factories for stored webhook deliveries (tests/webhooks only)."""

import json

import factory
from django.utils import timezone

from tests.factories import TenantFactory
from zoom_integration.models import DeliveryStatus, ZoomWebhookDelivery


def envelope(event: str, obj: dict | None = None, *, account_id: str = "Aq7Zp1",
             event_ts: int = 1717000000123, **payload) -> dict:
    """Zoom's common envelope: event, event_ts (ms) and payload with account_id and object."""
    return {"event": event, "event_ts": event_ts,
            "payload": {"account_id": account_id, **payload, "object": obj or {}}}


class ZoomWebhookDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ZoomWebhookDelivery

    class Params:
        envelope = factory.LazyAttribute(
            lambda o: envelope(o.event, {"id": "86012345678", "uuid": f"uuid-{o.sequence}=="}))
        sequence = factory.Sequence(lambda n: n)

    tenant = factory.SubFactory(TenantFactory)
    event = "meeting.ended"
    event_ts = factory.LazyAttribute(lambda o: o.envelope.get("event_ts"))
    account_id = "Aq7Zp1"
    dedupe_key = factory.Sequence(lambda n: f"test:{n}")
    body = factory.LazyAttribute(lambda o: json.dumps(o.envelope))
    status = DeliveryStatus.PENDING
    # Already handed to the broker, as a stored delivery is moments after it arrives; tests of
    # the outbox itself pass queued_at=None.
    queued_at = factory.LazyFunction(timezone.now)
