"""End to end: the Zoom sandbox delivers signed events over HTTP to a running portal, and a real
Celery worker (a subprocess, on real Redis and the test database) processes them.

Covers the issue's "done when": the sandbox validates the endpoint, every delivery lands exactly
once, nothing is lost while the worker is away, and answering needs no broker.
"""

import time

import pytest
from django.conf import settings

from tenants.models import TenantDomain
from tests.celery_worker import celery_worker
from tests.factories import TenantFactory
from zoom_integration import queueing
from zoom_integration.models import (
    ConnectionState,
    DeliveryStatus,
    ZoomConnection,
    ZoomMeeting,
    ZoomUser,
    ZoomWebhookDelivery,
)
from zoom_integration.webhooks.process import webhook_pending_sweep
from zoom_sandbox.testing import running_sandbox

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def webhooks_worker():
    """A real worker on the webhooks queue, against this test's database; always stopped."""
    return celery_worker(name="webhooks", queues="webhooks")


def wait_until(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def all_processed(tenant, count: int):
    def check():
        statuses = list(ZoomWebhookDelivery.objects.filter(tenant=tenant)
                        .values_list("status", flat=True))
        return len(statuses) == count and set(statuses) <= {DeliveryStatus.PROCESSED}
    return check


def test_sandbox_events_land_exactly_once_through_outages(live_server, through_broker):
    tenant = TenantFactory()
    # live_server answers on localhost:PORT; the port is dropped when resolving the host.
    TenantDomain.objects.create(tenant=tenant, domain="localhost")
    with running_sandbox() as zoom:
        app = zoom.register_app(client_id=tenant.client_id, client_secret=tenant.client_secret,
                                secret_token=tenant.secret_token,
                                event_url=live_server.url + "/zoom/event")
        client_id = app["client_id"]
        tenant.zoom_account_id = app["account_id"]
        tenant.save(update_fields=["zoom_account_id"])

        # URL validation, answered by the portal and checked by the sandbox.
        assert zoom.validate_url(client_id)["ok"] is True
        assert ZoomConnection.objects.get(tenant=tenant).endpoint_validated_at is not None

        # 1. No worker running: deliveries are stored and acknowledged, messages wait.
        created = zoom.create_user(client_id=client_id, first_name="Zoë", last_name="Ünal")
        user_id = created["user"]["id"]
        # In order: the directory ignores a user.created older than an update it applied.
        assert zoom.wait_deliveries(timeout=10)
        zoom.update_user(user_id, dept="Ventes & Qualité")
        assert zoom.wait_deliveries(timeout=10)
        assert wait_until(lambda: ZoomWebhookDelivery.objects.filter(tenant=tenant).count() == 2)
        assert set(ZoomWebhookDelivery.objects.values_list("status", flat=True)) == {
            DeliveryStatus.PENDING}

        with webhooks_worker() as worker:
            # 2. The worker starts and takes what waited.
            assert wait_until(all_processed(tenant, 2)), worker.stderr
            user = ZoomUser.objects.get(tenant=tenant, zoom_id=user_id)
            assert (user.first_name, user.dept) == ("Zoë", "Ventes & Qualité")

            # 3. Events while the worker runs.
            ended = zoom.end_meeting(client_id=client_id, participants=3)
            zoom.end_webinar(client_id=client_id, participants=2)
            zoom.delete_user(user_id)
            assert zoom.wait_deliveries(timeout=10)
            assert wait_until(all_processed(tenant, 5))
            assert ZoomMeeting.objects.get(tenant=tenant, uuid=ended["uuid"]).kind == "meeting"
            assert ZoomUser.objects.get(tenant=tenant, zoom_id=user_id).deleted_at is not None

            # 4. The portal's own broker setting points nowhere: it does not matter, the
            # request only stores; the worker's outbox dispatcher queues each delivery.
            through_broker.broker_url = "redis://127.0.0.1:9/0"
            queueing.broker_publish_resume()
            zoom.deauthorize(client_id)
            second = zoom.create_user(client_id=client_id, first_name="Late")
            assert zoom.wait_deliveries(timeout=10)
            attempts = [a for d in zoom.deliveries() for a in d["attempts"]]
            assert all(a["status"] == 200 for a in attempts), attempts
            assert wait_until(all_processed(tenant, 7)), worker.stderr
            through_broker.broker_url = settings.CELERY_BROKER_URL
            assert webhook_pending_sweep(older_than_seconds=0) == 0  # nothing was left over
            assert ZoomConnection.objects.get(tenant=tenant).state == \
                ConnectionState.DEAUTHORIZED
            assert ZoomUser.objects.filter(tenant=tenant, zoom_id=second["user"]["id"]).exists()

    # Exactly once: one row per event, each processed in one attempt, no retries needed.
    deliveries = list(ZoomWebhookDelivery.objects.filter(tenant=tenant))
    assert len(deliveries) == 7
    assert {(d.attempts, d.duplicates) for d in deliveries} == {(1, 0)}
    assert len({d.dedupe_key for d in deliveries}) == 7
