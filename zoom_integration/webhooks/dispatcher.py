"""The outbox dispatcher: a thread in each Celery worker that queues deliveries as they commit.

On PostgreSQL it `LISTEN`s on the outbox channel (the receiver's insert sends a `NOTIFY` when
the row commits) and runs `outbox.webhook_outbox_dispatch` on every wake-up, and at least every
WAKE_TIMEOUT_SECONDS anyway, so a notification missed while reconnecting delays a delivery by
seconds, not until the sweeper. Notifications that pile up while it dispatches are drained
together: one claim serves a burst. On other databases (the SQLite of `make run`) it polls every
WAKE_TIMEOUT_SECONDS. Several workers each run one; the claim's `FOR UPDATE SKIP LOCKED` keeps
them from queueing a row twice.

Started in the worker's main process when the worker is ready (`celery.signals.worker_ready`,
connected in `tasks/webhooks.py`), stopped at shutdown. `ZOOM_WEBHOOK_OUTBOX_DISPATCHER = False`
in settings turns it off (then only the sweeper drains the outbox, once a minute).
"""

from __future__ import annotations

import logging
import threading

import psycopg
from django.conf import settings
from django.db import connection

from .outbox import DISPATCH_BATCH, OUTBOX_CHANNEL, webhook_outbox_dispatch

logger = logging.getLogger(__name__)

WAKE_TIMEOUT_SECONDS = 2.0
RECONNECT_SECONDS = 2.0


def _listen_connection() -> psycopg.Connection:
    """A separate autocommit connection to the portal's database, listening on the channel
    (Django's own connection cannot wait for notifications)."""
    db = settings.DATABASES["default"]
    options = {k: v for k, v in (db.get("OPTIONS") or {}).items()
               if k in ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout")}
    conn = psycopg.connect(dbname=db["NAME"], user=db.get("USER") or None,
                           password=db.get("PASSWORD") or None, host=db.get("HOST") or None,
                           port=db.get("PORT") or None, autocommit=True,
                           application_name="webhook-outbox-dispatcher", **options)
    conn.execute(f"LISTEN {OUTBOX_CHANNEL}")
    return conn


class OutboxDispatcher:
    """One dispatcher thread; `start` and `stop` are idempotent."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="webhook-outbox", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if connection.vendor != "postgresql":
                    self._poll()  # no LISTEN/NOTIFY (the SQLite of `make run`)
                    continue
                with _listen_connection() as listener:
                    self._serve(listener)
            except Exception:
                # The database or broker went away: the rows wait in the outbox meanwhile.
                logger.warning("webhook outbox dispatcher: restarting in %.0f s",
                               RECONNECT_SECONDS, exc_info=True)
                connection.close()
                self._stop.wait(RECONNECT_SECONDS)
        connection.close()

    def _poll(self) -> None:
        while not self._stop.is_set():
            while webhook_outbox_dispatch() >= DISPATCH_BATCH and not self._stop.is_set():
                pass
            self._stop.wait(WAKE_TIMEOUT_SECONDS)

    def _serve(self, listener: psycopg.Connection) -> None:
        while not self._stop.is_set():
            connection.close_if_unusable_or_obsolete()
            while webhook_outbox_dispatch() >= DISPATCH_BATCH and not self._stop.is_set():
                pass
            for _ in listener.notifies(timeout=WAKE_TIMEOUT_SECONDS, stop_after=1):
                pass
            # What else arrived meanwhile is served by the same next claim.
            for _ in listener.notifies(timeout=0.0):
                pass


_dispatcher = OutboxDispatcher()


def outbox_dispatcher_start() -> None:
    """Starts this process's dispatcher thread (the worker calls it once it is ready)."""
    if getattr(settings, "ZOOM_WEBHOOK_OUTBOX_DISPATCHER", True):
        _dispatcher.start()


def outbox_dispatcher_stop() -> None:
    _dispatcher.stop()
