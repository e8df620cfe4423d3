"""Races and outages, on real PostgreSQL and Redis: concurrent duplicates, a broker that is down."""

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
def real_broker():
    """Tasks go through the broker (not eager); the app's settings are restored afterwards."""
    conf = celery_app.conf
    saved = conf.broker_url, conf.task_always_eager
    conf.task_always_eager = False
    queueing.broker_publish_resume()

    def point_at(url: str):
        conf.broker_url = url

    yield point_at
    conf.broker_url, conf.task_always_eager = saved
    queueing.broker_publish_resume()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def timed_post(tenant, body):
    started = time.monotonic()
    response = post(tenant, body)
    return response, time.monotonic() - started


def test_broker_up_queues_on_the_webhooks_queue(real_broker, redis_client):
    from django.conf import settings

    real_broker(settings.CELERY_BROKER_URL)
    tenant = TenantFactory()
    response, _ = timed_post(tenant, user_created("Up1"))
    assert response.status_code == 200
    delivery = ZoomWebhookDelivery.objects.get(tenant=tenant)
    assert delivery.status == DeliveryStatus.PENDING  # no worker in this test
    [message] = redis_client.lrange("webhooks", 0, -1)
    message = json.loads(message)
    assert message["headers"]["task"] == "zoom_integration.tasks.webhook_delivery_process"
    assert json.loads(__import__("base64").b64decode(message["body"]))[1] == {
        "delivery_id": delivery.pk}


def test_broker_down_answers_fast_keeps_pending_then_sweeper_processes_once(real_broker):
    real_broker(f"redis://127.0.0.1:{closed_port()}/0")
    tenant = TenantFactory()
    response, took = timed_post(tenant, user_created("Down1"))
    assert response.status_code == 200
    assert took < 1.5, took
    # Paused after the failure: the next answer does not wait for the broker at all.
    response, took_next = timed_post(tenant, user_created("Down2"))
    assert response.status_code == 200
    assert took_next < 0.4, took_next
    deliveries = ZoomWebhookDelivery.objects.filter(tenant=tenant)
    assert [d.status for d in deliveries] == [DeliveryStatus.PENDING] * 2
    assert not ZoomUser.objects.filter(tenant=tenant).exists()

    # The broker is back (eager here stands for a worker taking the swept messages).
    celery_app.conf.task_always_eager = True
    queueing.broker_publish_resume()
    assert webhook_pending_sweep(older_than_seconds=60) == 0  # not stale yet
    assert webhook_pending_sweep(older_than_seconds=0) == 2
    assert {d.status for d in deliveries.all()} == {DeliveryStatus.PROCESSED}
    assert [d.attempts for d in deliveries.all()] == [1, 1]
    assert ZoomUser.objects.filter(tenant=tenant).count() == 2
    assert webhook_pending_sweep(older_than_seconds=0) == 0


def test_hung_broker_does_not_hold_the_answer(real_broker):
    # Accepts connections (the kernel's backlog) and never answers a command.
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(16)
        real_broker(f"redis://127.0.0.1:{hung.getsockname()[1]}/0")
        tenant = TenantFactory()
        response, took = timed_post(tenant, user_created("Hung1"))
    assert response.status_code == 200
    assert took < 1.5, took
    assert ZoomWebhookDelivery.objects.get(tenant=tenant).status == DeliveryStatus.PENDING


def test_sweeper_backs_off_while_the_worker_is_away(real_broker, redis_client):
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    real_broker(settings.CELERY_BROKER_URL)  # the broker answers; no worker consumes
    tenant = TenantFactory()
    delivery = ZoomWebhookDelivery.objects.create(
        tenant=tenant, event="user.created", dedupe_key="k", body="{}",
        due_at=timezone.now() - timedelta(minutes=10))
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
    assert redis_client.llen("webhooks") == 2


def test_sweep_with_the_broker_down_queues_nothing_and_counts_nothing(real_broker):
    from datetime import timedelta

    from django.utils import timezone

    real_broker(f"redis://127.0.0.1:{closed_port()}/0")
    tenant = TenantFactory()
    long_ago = timezone.now() - timedelta(minutes=10)
    delivery = ZoomWebhookDelivery.objects.create(tenant=tenant, event="user.created",
                                                  dedupe_key="k", body="{}", due_at=long_ago)
    assert webhook_pending_sweep(older_than_seconds=60) == 0
    delivery.refresh_from_db()
    assert (delivery.sweeps, delivery.due_at, delivery.status) == (0, long_ago,
                                                                   DeliveryStatus.PENDING)
