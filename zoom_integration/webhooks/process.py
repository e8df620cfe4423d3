"""Processing stored webhook deliveries: claim, run the handler, retry, sweep, requeue.

Owns `webhook_delivery_process` (the processing task's one call), `webhook_pending_sweep` (beat:
drains the outbox, and queues deliveries whose queue message was lost) and
`webhook_deliveries_requeue` (admin "Process again", `webhook_reprocess`). Processing is
idempotent and race-safe: a conditional UPDATE claims a delivery, with a lease that outlives the
task's hard time limit; transient errors raise `RetryLater` with backoff until MAX_ATTEMPTS,
then the delivery is parked as failed with its error and traceback kept.
"""

from __future__ import annotations

import json
import logging
import traceback as traceback_module
from datetime import timedelta

from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone

from observability import hooks as observe

from .. import queueing
from ..backoff import backoff_seconds
from ..exceptions import RetryLater, ZoomRateLimitedError, ZoomTransientError
from ..models import DeliveryStatus, ZoomWebhookDelivery
from .handlers import WEBHOOK_HANDLERS
from .outbox import DISPATCH_BATCH, webhook_outbox_dispatch

logger = logging.getLogger(__name__)

# Attempts before a delivery is parked as failed, and the backoff between them.
MAX_ATTEMPTS = 5
RETRY_BASE_SECONDS = 60
RETRY_MAX_SECONDS = 30 * 60
# A delivery left "processing" this long belongs to a worker that died: take it up again. It
# exceeds the processing task's hard time limit (tasks/webhooks.py).
PROCESSING_LEASE = timedelta(minutes=5)
SWEEP_BATCH = 1000
SWEEP_BACKOFF_MAX = timedelta(hours=1)

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ZoomTransientError, ZoomRateLimitedError, OperationalError, InterfaceError,
    ConnectionError, TimeoutError,
)


class _LeaseLost(Exception):
    """Another worker took the delivery over (our lease expired): our work is rolled back."""


def _retry_countdown(attempts: int, exc: BaseException) -> float:
    countdown = backoff_seconds(attempts, base=RETRY_BASE_SECONDS, cap=RETRY_MAX_SECONDS)
    if isinstance(exc, ZoomRateLimitedError):
        countdown = max(countdown, exc.retry_after_seconds)
    return countdown


@observe.webhook_process_observed
def webhook_delivery_process(*, delivery_id: int) -> None:
    """Processes one stored delivery at most once at a time, and to completion once.

    Idempotent and race-safe: a conditional UPDATE claims the delivery (pending, or processing
    past its lease), so concurrent or repeated calls do nothing. The handler's writes and the
    "processed" mark commit together. Transient errors raise `RetryLater` (the task
    retries with backoff) until MAX_ATTEMPTS; other errors, and the last attempt, park the
    delivery as failed with the error and traceback kept. Unknown event types: ignored.
    """
    started = timezone.now()
    claimed = (ZoomWebhookDelivery.objects.filter(pk=delivery_id)
               .filter(Q(status=DeliveryStatus.PENDING)
                       | Q(status=DeliveryStatus.PROCESSING,
                           started_at__lt=started - PROCESSING_LEASE))
               .update(status=DeliveryStatus.PROCESSING, started_at=started,
                       attempts=F("attempts") + 1))
    if not claimed:
        logger.debug("delivery %s: not pending, nothing to do", delivery_id)
        return
    delivery = ZoomWebhookDelivery.objects.select_related("tenant").get(pk=delivery_id)
    ours = ZoomWebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PROCESSING,
                                              started_at=started)
    handler = WEBHOOK_HANDLERS.get(delivery.event)
    if handler is None:
        ours.update(status=DeliveryStatus.IGNORED, processed_at=timezone.now(), last_error="",
                    traceback="")
        return

    committed: list[bool] = []
    try:
        with transaction.atomic():
            transaction.on_commit(lambda: committed.append(True))
            handler(tenant=delivery.tenant, event=delivery.event,
                    envelope=json.loads(delivery.body))
            if not ours.update(status=DeliveryStatus.PROCESSED, processed_at=timezone.now(),
                               last_error="", traceback=""):
                raise _LeaseLost()
    except _LeaseLost:
        logger.warning("delivery %s was taken over by another worker; rolled back", delivery_id)
    except Exception as exc:
        if committed:
            # The work and the "processed" mark are committed; a hook run after the commit
            # (e.g. a handler's own enqueue) failed. Not a reason to process again.
            logger.exception("delivery %s processed; a hook after the commit failed",
                             delivery_id)
            return
        _delivery_failure(delivery=delivery, ours=ours, exc=exc)


def _delivery_failure(*, delivery: ZoomWebhookDelivery, ours, exc: Exception) -> None:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    trace = "".join(traceback_module.format_exception(exc))[-20000:]
    if isinstance(exc, TRANSIENT_ERRORS) and delivery.attempts < MAX_ATTEMPTS:
        countdown = _retry_countdown(delivery.attempts, exc)
        ours.update(status=DeliveryStatus.PENDING, last_error=error, traceback=trace,
                    due_at=timezone.now() + timedelta(seconds=countdown))
        logger.warning("delivery %s (%s) attempt %d failed, retry in %.0f s: %s", delivery.pk,
                       delivery.event, delivery.attempts, countdown, error)
        raise RetryLater(countdown, error) from exc
    ours.update(status=DeliveryStatus.FAILED, last_error=error, traceback=trace)
    logger.error("delivery %s (%s) failed after %d attempt(s): %s", delivery.pk, delivery.event,
                 delivery.attempts, error)


def webhook_pending_sweep(*, older_than_seconds: int = 60) -> int:
    """Drains the outbox, then queues deliveries whose queue message was lost; returns how many it
    queued in all.

    The outbox first (`outbox.webhook_outbox_dispatch`: stored deliveries no worker's dispatcher
    has queued yet, e.g. while none runs). Then queued deliveries still pending and due more
    than `older_than_seconds` ago (their message was lost, or a retry message was; or a
    dispatcher died between claim and publish), and deliveries stuck "processing" past the lease
    (the worker died). A delivery swept before waits twice as long before the next sweep (up to
    SWEEP_BACKOFF_MAX): while the worker is away its message is still queued, and re-queueing
    every delivery every minute would pile copies up. Processing is claimed atomically, so a
    copy that arrives late does nothing.
    """
    queued = 0
    while (drained := webhook_outbox_dispatch()):
        queued += drained
        if drained < DISPATCH_BATCH:
            break
    now = timezone.now()
    cutoff = now - timedelta(seconds=older_than_seconds)
    stale = (Q(status=DeliveryStatus.PENDING, queued_at__isnull=False, due_at__lt=cutoff)
             | Q(status=DeliveryStatus.PROCESSING, due_at__lt=cutoff,
                 started_at__lt=now - PROCESSING_LEASE))
    rows = list(ZoomWebhookDelivery.objects.filter(stale).order_by("due_at")
                .values_list("pk", "due_at", "sweeps")[:SWEEP_BATCH])
    for delivery_id, due_at, sweeps in rows:
        wait = min(timedelta(seconds=older_than_seconds) * (2 ** min(sweeps, 16) - 1),
                   SWEEP_BACKOFF_MAX)
        row = ZoomWebhookDelivery.objects.filter(pk=delivery_id)
        row.update(due_at=now + wait, sweeps=F("sweeps") + 1)
        if not queueing.webhook_delivery_enqueue(delivery_id=delivery_id):
            # The broker is away: nothing was queued, so this sweep does not count.
            row.filter(status=DeliveryStatus.PENDING).update(due_at=due_at, sweeps=sweeps)
            break
        queued += 1
    if rows:
        logger.info("webhook sweep queued %d deliveries (%d stale)", queued, len(rows))
    return queued


def webhook_deliveries_requeue(*, delivery_ids: list[int] | None = None,
                               failed: bool = False) -> list[int]:
    """Marks deliveries pending again (admin "Process again", `webhook_reprocess`).

    Selected by id, or every failed one. Deliveries being processed right now are left alone.
    Returns the ids made pending; the caller processes or queues them.
    """
    deliveries = ZoomWebhookDelivery.objects.exclude(status=DeliveryStatus.PROCESSING)
    if delivery_ids is not None:
        deliveries = deliveries.filter(pk__in=delivery_ids)
    if failed:
        deliveries = deliveries.filter(status=DeliveryStatus.FAILED)
    ids = list(deliveries.values_list("pk", flat=True))
    if ids:
        # A fresh run gets a fresh budget of attempts.
        ZoomWebhookDelivery.objects.filter(pk__in=ids).exclude(
            status=DeliveryStatus.PROCESSING).update(
                status=DeliveryStatus.PENDING, attempts=0, sweeps=0, due_at=timezone.now(),
                queued_at=timezone.now())
    return ids
