"""The one door to the broker: every piece of Zoom work is queued here, by task name.

Services call these functions instead of importing task modules, so the import graph runs one
way only: tasks import services, services import this module, and this module imports no task
(it addresses them by their registered names, which are also what the beat schedules stored
in the database and the queue routes in settings use; they never change).

- `webhook_deliveries_enqueue`: the webhook outbox's dispatcher (`webhooks.outbox`) queues
  stored deliveries in batches, outside any request; `webhook_delivery_enqueue` queues one
  (the sweeper, the admin's "Process again"). Both are time-bounded, so a dead broker holds
  no caller long: a delivery it did not take stays pending and is queued later.
- `metrics_fetch_enqueue`, `directory_sync_enqueue`, `scope_parked_resume_enqueue`,
  `metrics_failed_requeue_enqueue`: queued when the current transaction commits, so a worker
  never looks for a row that is not there yet (or was rolled back).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from celery import current_app
from django.db import transaction

logger = logging.getLogger(__name__)

# Registered task names (zoom_integration/tasks/); routes in settings match their prefixes.
WEBHOOK_DELIVERY_PROCESS = "zoom_integration.tasks.webhook_delivery_process"
METRICS_FETCH = "zoom_integration.tasks.metrics_fetch"
SYNC_TENANT_DIRECTORY = "zoom_integration.tasks.sync_tenant_directory"
METRICS_FAILED_REQUEUE = "zoom_integration.tasks.metrics_failed_requeue"
RECONCILE_TENANT = "zoom_integration.tasks.sync_reconcile_tenant"
OVERVIEW_TENANT = "zoom_integration.tasks.sync_overview_tenant"
SCOPE_PARKED_RESUME = "zoom_integration.tasks.scope_parked_resume"

# Enqueue bounds for webhooks: a slow or dead broker gets at most this long per request, and
# after a failure requests skip the broker for a while (the sweeper queues those deliveries
# once it answers again).
ENQUEUE_WAIT_SECONDS = 0.5
ENQUEUE_PAUSE_SECONDS = 5.0
BROKER_CONNECT_TIMEOUT_SECONDS = 0.5
BROKER_SOCKET_TIMEOUT_SECONDS = 1.0


def _signature(name: str):
    """A signature of the task registered under `name`.

    A worker imports the task modules at start; a web process or a test imports them here on
    first use (Celery's autodiscovery), so that eager mode runs the task in place rather than
    sending it to a broker.
    """
    app = current_app
    if name not in app.tasks:
        app.loader.import_default_modules()
    return app.signature(name)


class _BoundedPublisher:
    """Publishes task messages from a small thread pool and waits a bounded time for each.

    Celery's `retry=False` alone does not bound a publish: kombu retries a refused connection
    after 2 s, and a hung broker holds a socket until its timeout. So the request thread waits
    at most ENQUEUE_WAIT_SECONDS and moves on; the publishing thread finishes or fails on its
    own (its connection has short socket timeouts and no connect retries), and either way the
    delivery is safe in the database. After a failure, publishing pauses briefly so a dead
    broker costs one wait, not one per request.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self.paused_until = 0.0

    def _executor_get(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None or self._pid != os.getpid():  # new after a fork
                self._executor = ThreadPoolExecutor(max_workers=2,
                                                    thread_name_prefix="webhook-enqueue")
                self._pid = os.getpid()
            return self._executor

    def _connection(self, app):
        url = app.conf.broker_write_url or app.conf.broker_url
        cached = getattr(self._local, "connection", None)
        if cached is not None and self._local.url == url:
            return cached
        if cached is not None:
            cached.release()
        # max_retries 0: kombu would otherwise retry a refused connection after 2 s.
        options = {"socket_connect_timeout": BROKER_CONNECT_TIMEOUT_SECONDS,
                   "socket_timeout": BROKER_SOCKET_TIMEOUT_SECONDS, "max_retries": 0}
        connection = app.connection_for_write(url, connect_timeout=BROKER_CONNECT_TIMEOUT_SECONDS,
                                              transport_options=options)
        self._local.connection, self._local.url = connection, url
        return connection

    def _send(self, name: str, kwargs: dict[str, Any]) -> None:
        signature = _signature(name)
        connection = self._connection(signature.app)
        try:
            signature.apply_async(kwargs=kwargs, connection=connection, retry=False)
        except Exception:
            connection.release()
            self._local.connection = None
            raise

    def _send_many(self, name: str, batch: list[tuple[dict[str, Any], dict[str, Any]]],
                   sent: list[int]) -> None:
        signature = _signature(name)
        connection = self._connection(signature.app)
        try:
            with connection.Producer() as producer:
                for kwargs, options in batch:
                    signature.apply_async(kwargs=kwargs, producer=producer, retry=False,
                                          **options)
                    sent[0] += 1
        except Exception:
            connection.release()
            self._local.connection = None
            raise

    def publish_many(self, name: str, batch: list[tuple[dict[str, Any], dict[str, Any]]]) -> int:
        """Publishes `batch` ((kwargs, options) each) in order on one connection; returns how
        many the broker took.

        A failure stops the batch, so what was taken is always a prefix of it.
        """
        if time.monotonic() < self.paused_until:
            return 0
        sent = [0]
        future = self._executor_get().submit(self._send_many, name, batch, sent)
        try:
            future.result(timeout=ENQUEUE_WAIT_SECONDS + 0.002 * len(batch))
            return sent[0]
        except TimeoutError:
            logger.warning("broker took %d of %d %s within the wait", sent[0], len(batch), name)
        except Exception as exc:
            logger.warning("broker refused %s after %d of %d (%s: %s)", name, sent[0],
                           len(batch), type(exc).__name__, exc)
        self.paused_until = time.monotonic() + ENQUEUE_PAUSE_SECONDS
        # A publish still under way may yet succeed; counting it as not taken only means the
        # delivery may be queued twice, which processing's claim makes harmless.
        return sent[0]

    def publish(self, name: str, **kwargs: Any) -> bool:
        if time.monotonic() < self.paused_until:
            return False
        future = self._executor_get().submit(self._send, name, kwargs)
        try:
            future.result(timeout=ENQUEUE_WAIT_SECONDS)
            return True
        except TimeoutError:
            logger.warning("broker did not take %s within %.1f s; left for the sweeper",
                           name, ENQUEUE_WAIT_SECONDS)
        except Exception as exc:
            logger.warning("broker refused %s (%s: %s); left for the sweeper", name,
                           type(exc).__name__, exc)
        self.paused_until = time.monotonic() + ENQUEUE_PAUSE_SECONDS
        return False

    def resume(self) -> None:
        """Forgets a failure now (tests, and after an operator fixed the broker)."""
        self.paused_until = 0.0


_publisher = _BoundedPublisher()


def broker_publish_resume() -> None:
    """Lets webhook enqueues try the broker again at once, after a failure paused them."""
    _publisher.resume()


def webhook_delivery_enqueue(*, delivery_id: int) -> bool:
    """Queues processing of one stored delivery; False when the broker did not take it in time.

    Never raises: the delivery stays pending and the sweeper queues it later.
    """
    if current_app.conf.task_always_eager:
        # Eager (unit tests, no broker): runs here and now, in this thread and transaction.
        try:
            _signature(WEBHOOK_DELIVERY_PROCESS).apply_async(kwargs={"delivery_id": delivery_id})
        except Exception:
            logger.exception("eager processing of delivery %s failed", delivery_id)
            return False
        return True
    return _publisher.publish(WEBHOOK_DELIVERY_PROCESS, delivery_id=delivery_id)


def webhook_deliveries_enqueue(*, delivery_ids: list[int],
                               priorities: dict[int, int] | None = None) -> int:
    """Queues processing of stored deliveries, in order, each with its priority if given;
    returns how many the broker took (a prefix of `delivery_ids`). Never raises.

    Eager (unit tests, no broker): each is processed here, in this thread and transaction.
    """
    if current_app.conf.task_always_eager:
        for delivery_id in delivery_ids:
            try:
                _signature(WEBHOOK_DELIVERY_PROCESS).apply_async(
                    kwargs={"delivery_id": delivery_id})
            except Exception:
                logger.exception("eager processing of delivery %s failed", delivery_id)
        return len(delivery_ids)
    priorities = priorities or {}
    return _publisher.publish_many(WEBHOOK_DELIVERY_PROCESS, [
        ({"delivery_id": pk}, {"priority": priorities[pk]} if pk in priorities else {})
        for pk in delivery_ids])


def metrics_fetch_enqueue(*, meeting_id: int, countdown: float,
                          priority: int | None = None) -> None:
    """Queues one meeting's dashboard fetch, `countdown` seconds after the commit (with a
    queue priority when given: `fairness`)."""
    options = {} if priority is None else {"priority": priority}
    transaction.on_commit(lambda: _signature(METRICS_FETCH).apply_async(
        args=[meeting_id], countdown=max(0, countdown), **options))


def directory_sync_enqueue(*, tenant_id: int) -> None:
    """Queues one tenant's full directory sync once the current transaction commits."""
    transaction.on_commit(lambda: _signature(SYNC_TENANT_DIRECTORY).apply_async(
        args=[tenant_id]))


def metrics_failed_requeue_enqueue(*, tenant_id: int) -> None:
    """Queues "fetch the tenant's failed meetings again" once the current transaction commits
    (the OAuth callback calls it when the tenant is authorized again)."""
    transaction.on_commit(lambda: _signature(METRICS_FAILED_REQUEUE).apply_async(
        args=[tenant_id]))


def _send_now(name: str, *, tenant_id: int, countdown: float = 0) -> None:
    """Sends a message now, outside any transaction and even in eager mode (a worker takes it).

    For bookkeeping runs whose state is already committed and that a beat re-queues when a
    message is lost: a broker that is away costs a warning, never the caller's work.
    """
    try:
        current_app.send_task(name, args=[tenant_id], countdown=max(0, countdown))
    except Exception:  # noqa: BLE001 - the beat makes up for a lost message
        logger.warning("could not queue %s for tenant %s; the beat will", name, tenant_id,
                       exc_info=True)


def reconcile_enqueue(*, tenant_id: int, countdown: float = 0) -> None:
    """Queues one tenant's reconcile with Zoom's meeting lists."""
    _send_now(RECONCILE_TENANT, tenant_id=tenant_id, countdown=countdown)


def overview_enqueue(*, tenant_id: int) -> None:
    """Queues one tenant's account-overview fetch."""
    _send_now(OVERVIEW_TENANT, tenant_id=tenant_id)


def scope_parked_resume_enqueue(*, tenant_id: int) -> None:
    """Queues the resume of the tenant's work parked on a missing scope, after the commit of
    a new authorization."""
    transaction.on_commit(lambda: _signature(SCOPE_PARKED_RESUME).apply_async(
        args=[tenant_id]))
