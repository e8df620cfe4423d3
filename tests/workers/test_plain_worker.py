"""A worker started exactly as the README's production command says consumes every queue.

`celery -A nectar_portal worker`, with no `-Q`, must take webhook, sync and metrics tasks too:
a queue that tasks are routed to but no worker consumes would hold them forever, silently.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from django.conf import settings

from devstack.commands import BIN
from nectar_portal.celery import app as celery_app
from tests import celery_worker as worker_helper
from tests.factories import ZoomWebhookDeliveryFactory, envelope
from zoom_integration import queueing
from zoom_integration.models import DeliveryStatus, ZoomUser

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_default_worker_queues_are_every_routed_queue():
    # What a worker without -Q consumes: the declared queues (routing alone declares nothing).
    declared = {queue.name for queue in celery_app.conf.task_queues or ()}
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    assert routed | {"default"} <= declared


def test_worker_started_as_the_readme_says_processes_a_webhook_delivery(through_broker):
    readme = (settings.BASE_DIR / "README.md").read_text()
    command = "celery -A nectar_portal worker"
    assert f"`{command}`" in readme  # the documented production command, with nothing added

    delivery = ZoomWebhookDeliveryFactory(
        event="user.created",
        envelope=envelope("user.created", {"id": "PlainW1", "email": "plain@cust.example",
                                           "type": 1}))
    assert queueing.webhook_delivery_enqueue(delivery_id=delivery.pk)

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "nectar_portal.settings.test",
           "CELERY_TASK_ALWAYS_EAGER": "0", "REDIS_URL": settings.REDIS_URL,
           "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
           "DATABASE_URL": worker_helper.test_database_url()}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    argv = [str(BIN / "celery"), *command.split()[1:]]
    worker = subprocess.Popen(argv, cwd=settings.BASE_DIR, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and worker.poll() is None:
            delivery.refresh_from_db()
            if delivery.status == DeliveryStatus.PROCESSED:
                break
            time.sleep(0.2)
        assert delivery.status == DeliveryStatus.PROCESSED, worker.poll()
        assert ZoomUser.objects.filter(tenant=delivery.tenant, zoom_id="PlainW1").exists()
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=5)
        worker.stderr.close()
