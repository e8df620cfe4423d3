"""The receiver and the outbox on databases without PostgreSQL's extras (the SQLite of
`make run`): the same row through the ORM, a duplicate stored once, a claim that marks rows.

These paths are plain ORM code, so they run here on PostgreSQL too; `make run` drives them on
SQLite end to end.
"""

import pytest

from tests.factories import TenantFactory, ZoomWebhookDeliveryFactory
from zoom_integration.models import DeliveryStatus, ZoomWebhookDelivery
from zoom_integration.webhooks.outbox import _claim_portable
from zoom_integration.webhooks.receive import _Envelope, _insert_portable

pytestmark = pytest.mark.django_db


def envelope() -> _Envelope:
    payload = {"account_id": "Aq7Zp1", "object": {"uuid": "u1=="}}
    return _Envelope(event="meeting.ended", event_ts=1, account_id="Aq7Zp1", payload=payload,
                     data={"event": "meeting.ended", "payload": payload})


def test_a_delivery_is_stored_once_and_a_duplicate_returns_nothing():
    tenant = TenantFactory()
    first = _insert_portable(tenant=tenant, envelope=envelope(), key="meeting.ended:u1==",
                             text="{}", headers={"x-zm-trackingid": "t1"}, remote_addr="10.0.0.1")
    again = _insert_portable(tenant=tenant, envelope=envelope(), key="meeting.ended:u1==",
                             text="{}", headers={}, remote_addr=None)
    assert first is not None and again is None
    row = ZoomWebhookDelivery.objects.get(pk=first[0])
    assert (row.status, row.queued_at, row.headers) == (
        DeliveryStatus.PENDING, None, {"x-zm-trackingid": "t1"})
    assert ZoomWebhookDelivery.objects.filter(tenant=tenant).count() == 1


def test_the_portable_claim_takes_waiting_rows_once_oldest_first():
    tenant = TenantFactory()
    waiting = [ZoomWebhookDeliveryFactory(tenant=tenant, queued_at=None) for _ in range(3)]
    ZoomWebhookDeliveryFactory(tenant=tenant)  # already queued
    ZoomWebhookDeliveryFactory(tenant=tenant, queued_at=None, status=DeliveryStatus.PROCESSED)

    first = _claim_portable(limit=2, ids=None)
    assert first == [(d.pk, tenant.pk) for d in waiting[:2]]
    rest = _claim_portable(limit=10, ids=None)
    assert rest == [(waiting[2].pk, tenant.pk)]
    assert _claim_portable(limit=10, ids=None) == []
    assert not ZoomWebhookDelivery.objects.filter(pk__in=[d.pk for d in waiting],
                                                  queued_at__isnull=True).exists()
