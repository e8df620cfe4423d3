"""Races and outages, on real PostgreSQL and Redis: concurrent duplicates, a broker that is down."""

import base64
import hashlib
import hmac
import json
import socket
import threading
import time

import pytest
from django.db import connections
from django.test import Client

from nectar_portal.celery import app as celery_app
from tests.factories import TenantFactory
from zoom_integration import queueing
from zoom_integration.models import DeliveryStatus, ZoomUser, ZoomWebhookDelivery
from zoom_integration.webhooks.outbox import webhook_outbox_backlog, webhook_outbox_dispatch
from zoom_integration.webhooks.process import (
    WEBHOOK_HANDLERS,
    webhook_delivery_process,
    webhook_pending_sweep,
)

pytestmark = pytest.mark.django_db(transaction=True)


def signed_headers(secret_token: str, body: bytes) -> dict:
    ts = str(int(time.time()))
    digest = hmac.new(secret_token.encode(), b"v0:" + ts.encode() + b":" + body,
                      hashlib.sha256).hexdigest()
    return {"x-zm-request-timestamp": ts, "x-zm-signature": f"v0={digest}"}


def user_created(user_id: str) -> bytes:
    return json.dumps({"event": "user.created", "event_ts": 1717000000123, "payload": {
        "account_id": "Aq7Zp1", "object": {"id": user_id, "email": f"{user_id}@cust.example",
                                           "first_name": "Ana", "type": 1}}},
                      separators=(",", ":")).encode()


def post(tenant, body: bytes):
    return Client(enforce_csrf_checks=True).post(
        "/zoom/event", body, content_type="application/json",
        headers={"host": f"{tenant.slug}.portal.test",
                 **signed_headers(tenant.secret_token, body)})


def in_threads(count: int, work):
    """Runs work(i) in `count` threads released together; returns results in order."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i):
        try:
            barrier.wait(timeout=10)
            results[i] = work(i)
        except Exception as exc:  # reported by the assertion on results
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_concurrent_duplicates_are_one_row_processed_once():
    tenant = TenantFactory()
    body = user_created("Cc1")
    statuses = [r.status_code if hasattr(r, "status_code") else r
                for r in in_threads(8, lambda i: post(tenant, body))]
    assert statuses == [200] * 8
    delivery = ZoomWebhookDelivery.objects.get(tenant=tenant)
    assert delivery.duplicates == 7
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PROCESSED, 1)
    assert ZoomUser.objects.filter(tenant=tenant, zoom_id="Cc1").count() == 1


def test_concurrent_processing_of_one_delivery_runs_the_handler_once(monkeypatch):
    tenant = TenantFactory()
    calls = []

    def slow(**kwargs):
        calls.append(threading.get_ident())
        time.sleep(0.3)

    monkeypatch.setitem(WEBHOOK_HANDLERS, "test.slow", slow)
    delivery = ZoomWebhookDelivery.objects.create(tenant=tenant, event="test.slow",
                                                  dedupe_key="k", body='{"event":"test.slow"}')
    in_threads(4, lambda i: webhook_delivery_process(delivery_id=delivery.pk))
    assert len(calls) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PROCESSED, 1)


# --- the broker ---------------------------------------------------------------------------------

@pytest.fixture
def real_broker(through_broker):
    """Tasks go through the broker (not eager), at the URL each test points it at; the app's
    settings are restored afterwards (by `through_broker`)."""

    def point_at(url: str):
        through_broker.broker_url = url

    return point_at


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def waiting_messages(redis_client) -> list[bytes]:
    """Messages waiting on the "webhooks" queue, every priority (the Redis transport keeps one
    list per priority step: "webhooks", then "webhooks" + separator + step)."""
    keys = sorted(k for k in redis_client.keys("webhooks*")
                  if k == b"webhooks" or k.startswith(b"webhooks\x06\x16"))
    return [raw for key in keys for raw in redis_client.lrange(key, 0, -1)]


def queued_ids(redis_client) -> list[int]:
    """Delivery ids of the processing messages waiting on the "webhooks" queue."""
    ids = []
    for raw in waiting_messages(redis_client):
        message = json.loads(raw)
        assert message["headers"]["task"] == "zoom_integration.tasks.webhook_delivery_process"
        ids.append(json.loads(base64.b64decode(message["body"]))[1]["delivery_id"])
    return ids


def outbox_delivery(tenant, key: str, **fields) -> ZoomWebhookDelivery:
    """A delivery as the receiver leaves it: pending, not yet handed to the broker."""
    return ZoomWebhookDelivery.objects.create(tenant=tenant, event="user.created",
                                              dedupe_key=key, body="{}", **fields)


def test_request_stores_only_and_the_dispatcher_queues_it_once(real_broker, redis_client):
    from django.conf import settings

    real_broker(settings.CELERY_BROKER_URL)
    tenant = TenantFactory()
    response = post(tenant, user_created("Up1"))
    assert response.status_code == 200
    delivery = ZoomWebhookDelivery.objects.get(tenant=tenant)
    # The request left it in the outbox and sent nothing to the broker.
    assert (delivery.status, delivery.queued_at) == (DeliveryStatus.PENDING, None)
    assert waiting_messages(redis_client) == []
    assert webhook_outbox_backlog() == 1

    assert webhook_outbox_dispatch() == 1
    assert queued_ids(redis_client) == [delivery.pk]
    delivery.refresh_from_db()
    assert delivery.queued_at is not None
    assert webhook_outbox_backlog() == 0
    assert webhook_outbox_dispatch() == 0  # queued once, not again
    assert webhook_pending_sweep(older_than_seconds=60) == 0
    assert len(waiting_messages(redis_client)) == 1


def test_broker_down_stored_deliveries_wait_then_are_processed_exactly_once(real_broker):
    real_broker(f"redis://127.0.0.1:{closed_port()}/0")
    tenant = TenantFactory()
    for user_id in ("Down1", "Down2"):
        assert post(tenant, user_created(user_id)).status_code == 200
    deliveries = ZoomWebhookDelivery.objects.filter(tenant=tenant)
    assert [(d.status, d.queued_at) for d in deliveries] == [(DeliveryStatus.PENDING, None)] * 2
    # A dispatcher (or the sweeper) meets the dead broker: the rows go back to the outbox.
    assert webhook_outbox_dispatch() == 0
    assert webhook_pending_sweep(older_than_seconds=0) == 0
    assert [(d.status, d.queued_at) for d in deliveries.all()] == [
        (DeliveryStatus.PENDING, None)] * 2
    assert not ZoomUser.objects.filter(tenant=tenant).exists()

    # The broker is back (eager here stands for a worker taking the messages).
    celery_app.conf.task_always_eager = True
    queueing.broker_publish_resume()
    assert webhook_outbox_dispatch() == 2
    assert {d.status for d in deliveries.all()} == {DeliveryStatus.PROCESSED}
    assert [d.attempts for d in deliveries.all()] == [1, 1]
    assert ZoomUser.objects.filter(tenant=tenant).count() == 2
    assert webhook_outbox_dispatch() == 0
    assert webhook_pending_sweep(older_than_seconds=0) == 0


def test_hung_broker_is_not_on_the_request_path(real_broker):
    # Accepts connections (the kernel's backlog) and never answers a command.
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(16)
        real_broker(f"redis://127.0.0.1:{hung.getsockname()[1]}/0")
        tenant = TenantFactory()
        response = post(tenant, user_created("Hung1"))
    assert response.status_code == 200
    delivery = ZoomWebhookDelivery.objects.get(tenant=tenant)
    assert (delivery.status, delivery.queued_at) == (DeliveryStatus.PENDING, None)


def test_concurrent_dispatchers_never_queue_a_delivery_twice(real_broker, redis_client):
    from django.conf import settings

    real_broker(settings.CELERY_BROKER_URL)
    tenant = TenantFactory()
    ids = [outbox_delivery(tenant, f"k{n}").pk for n in range(120)]

    def drain(_):
        total = 0
        while queued := webhook_outbox_dispatch(limit=7):
            total += queued
        return total

    counts = in_threads(4, drain)
    assert all(isinstance(c, int) for c in counts), counts
    assert sum(counts) == 120
    assert sorted(queued_ids(redis_client)) == ids  # each once, whatever its priority
    assert webhook_outbox_backlog() == 0


def test_dispatcher_thread_is_woken_by_the_stored_row(real_broker, redis_client):
    from django.conf import settings

    from zoom_integration.webhooks.dispatcher import WAKE_TIMEOUT_SECONDS, OutboxDispatcher

    real_broker(settings.CELERY_BROKER_URL)
    tenant = TenantFactory()
    dispatcher = OutboxDispatcher()
    dispatcher.start()
    try:
        assert post(tenant, user_created("Woken1")).status_code == 200
        delivery = ZoomWebhookDelivery.objects.get(tenant=tenant)
        # Waits for the outcome; how soon is the benchmark's business (e2e_latency).
        deadline = time.monotonic() + 10 * WAKE_TIMEOUT_SECONDS + 20
        while not waiting_messages(redis_client) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        dispatcher.stop()
    assert queued_ids(redis_client) == [delivery.pk]
    delivery.refresh_from_db()
    assert delivery.queued_at is not None


def test_sweeper_backs_off_while_the_worker_is_away(real_broker, redis_client):
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    real_broker(settings.CELERY_BROKER_URL)  # the broker answers; no worker consumes
    tenant = TenantFactory()
    long_ago = timezone.now() - timedelta(minutes=10)
    delivery = outbox_delivery(tenant, "k", due_at=long_ago, queued_at=long_ago)
    assert webhook_pending_sweep(older_than_seconds=60) == 1
    assert webhook_pending_sweep(older_than_seconds=60) == 0  # its message is queued
    delivery.refresh_from_db()
    assert delivery.sweeps == 1
    # A minute later it is queued again, then it waits twice as long, and so on.
    ZoomWebhookDelivery.objects.filter(pk=delivery.pk).update(
        due_at=timezone.now() - timedelta(seconds=61))
    before = timezone.now()
    assert webhook_pending_sweep(older_than_seconds=60) == 1
    delivery.refresh_from_db()
    assert delivery.sweeps == 2
    assert delivery.due_at >= before + timedelta(seconds=60)
    assert len(waiting_messages(redis_client)) == 2


def test_sweep_with_the_broker_down_queues_nothing_and_counts_nothing(real_broker):
    from datetime import timedelta

    from django.utils import timezone

    real_broker(f"redis://127.0.0.1:{closed_port()}/0")
    tenant = TenantFactory()
    long_ago = timezone.now() - timedelta(minutes=10)
    delivery = outbox_delivery(tenant, "k", due_at=long_ago, queued_at=long_ago)
    assert webhook_pending_sweep(older_than_seconds=60) == 0
    delivery.refresh_from_db()
    assert (delivery.sweeps, delivery.due_at, delivery.status) == (0, long_ago,
                                                                   DeliveryStatus.PENDING)
