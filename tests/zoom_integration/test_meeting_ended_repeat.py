"""A repeated `meeting.ended` for an instance whose fetch failed schedules the fetch again.

How a repeat arrives: Zoom's own retries of one delivery share its dedupe key (event + instance
uuid), so the receiver stores them as one row and counts the copies; the repeat that reaches
the metrics code is a stored delivery processed again (the admin's "Process again", or
`webhook_reprocess --ids`), or the same event recorded twice by the service. Both are tested:
the service alone, and the whole path from the stored delivery.
"""

import hashlib
import hmac
import json
import time

import pytest

from tests.factories import ZoomWebhookDeliveryFactory, envelope
from zoom_integration.metrics import meeting_ended_record
from zoom_integration.models import DeliveryStatus, ZoomMeeting, ZoomWebhookDelivery
from zoom_integration.models.metrics import FetchStatus
from zoom_integration.webhooks.process import webhook_deliveries_requeue, webhook_delivery_process

pytestmark = pytest.mark.django_db

UUID = "rP8+aa1/Qm2=="
OBJECT = {"id": "86012345678", "uuid": UUID, "topic": "Board call", "host_id": "U0",
          "start_time": "2026-05-29T09:00:00Z", "end_time": "2026-05-29T09:30:00Z"}


def fetches_queued(callbacks) -> int:
    """How many of the captured on-commit callbacks queue a metrics fetch."""
    return sum(getattr(cb, "__qualname__", "").startswith("metrics_fetch_enqueue.")
               for cb in callbacks)


def fail(meeting: ZoomMeeting) -> None:
    ZoomMeeting.objects.filter(pk=meeting.pk).update(
        fetch_status=FetchStatus.FAILED, fetch_attempts=7, last_error="no dashboard data")


def test_a_repeat_of_a_failed_instance_schedules_the_fetch_again(tenant,
                                                                 django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as first:
        meeting = meeting_ended_record(tenant=tenant, kind="meeting", payload={"object": OBJECT})
    assert fetches_queued(first) == 1
    fail(meeting)

    with django_capture_on_commit_callbacks() as again:
        repeat = meeting_ended_record(tenant=tenant, kind="meeting", payload={"object": OBJECT})
    assert repeat.pk == meeting.pk
    assert fetches_queued(again) == 1
    meeting.refresh_from_db()
    assert meeting.fetch_status == FetchStatus.SCHEDULED
    assert meeting.fetch_attempts == 0  # a fresh budget of attempts
    assert ZoomMeeting.objects.filter(tenant=tenant, uuid=UUID).count() == 1


@pytest.mark.parametrize("status", [s for s in FetchStatus.values if s != FetchStatus.FAILED])
def test_a_repeat_of_an_instance_not_failed_schedules_nothing(tenant, status,
                                                              django_capture_on_commit_callbacks):
    meeting = meeting_ended_record(tenant=tenant, kind="meeting", payload={"object": OBJECT})
    ZoomMeeting.objects.filter(pk=meeting.pk).update(fetch_status=status, fetch_attempts=2)
    with django_capture_on_commit_callbacks() as again:
        meeting_ended_record(tenant=tenant, kind="meeting", payload={"object": OBJECT})
    assert fetches_queued(again) == 0
    meeting.refresh_from_db()
    assert (meeting.fetch_status, meeting.fetch_attempts) == (status, 2)


def test_a_repeat_for_an_inactive_tenant_is_skipped_not_scheduled(tenant,
                                                                  django_capture_on_commit_callbacks):
    meeting = meeting_ended_record(tenant=tenant, kind="meeting", payload={"object": OBJECT})
    fail(meeting)
    tenant.is_active = False
    tenant.save(update_fields=["is_active"])
    with django_capture_on_commit_callbacks() as again:
        meeting_ended_record(tenant=tenant, kind="meeting", payload={"object": OBJECT})
    assert fetches_queued(again) == 0
    meeting.refresh_from_db()
    assert meeting.fetch_status == FetchStatus.SKIPPED


def test_processing_the_stored_delivery_again_reschedules_a_failed_fetch(
        tenant, django_capture_on_commit_callbacks):
    delivery = ZoomWebhookDeliveryFactory(
        tenant=tenant, body=json.dumps(envelope("meeting.ended", OBJECT)),
        dedupe_key=f"meeting.ended:{UUID}")
    with django_capture_on_commit_callbacks() as first:
        webhook_delivery_process(delivery_id=delivery.pk)
    assert fetches_queued(first) == 1
    meeting = ZoomMeeting.objects.get(tenant=tenant, uuid=UUID)
    fail(meeting)

    # What "Process again" and `webhook_reprocess --ids` do: pending again, then processed.
    assert webhook_deliveries_requeue(delivery_ids=[delivery.pk]) == [delivery.pk]
    with django_capture_on_commit_callbacks() as again:
        webhook_delivery_process(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PROCESSED
    assert fetches_queued(again) == 1
    meeting.refresh_from_db()
    assert meeting.fetch_status == FetchStatus.SCHEDULED and meeting.fetch_attempts == 0


def test_zooms_retry_of_the_same_delivery_is_one_row_counted_as_a_duplicate(
        tenant, client, django_capture_on_commit_callbacks):
    """The receiver's side of a repeat: stored once, the copy counted, queued once."""
    body = json.dumps(envelope("meeting.ended", OBJECT), separators=(",", ":")).encode()

    def send():
        ts = str(int(time.time()))
        sig = hmac.new(tenant.secret_token.encode(), b"v0:" + ts.encode() + b":" + body,
                       hashlib.sha256).hexdigest()
        return client.post("/zoom/event", body, content_type="application/json",
                           headers={"host": tenant.domains.get().domain,
                                    "x-zm-signature": f"v0={sig}",
                                    "x-zm-request-timestamp": ts})

    with django_capture_on_commit_callbacks() as stored:  # not processed: no Zoom here
        assert send().status_code == 200
    assert len(stored) == 1  # the enqueue of the one stored delivery
    with django_capture_on_commit_callbacks() as repeated:
        assert send().status_code == 200
    assert repeated == []
    (delivery,) = ZoomWebhookDelivery.objects.filter(tenant=tenant)
    assert delivery.dedupe_key == f"meeting.ended:{UUID}" and delivery.duplicates == 1
