"""The webhook outbox: stored deliveries handed to the broker by a dispatcher, never by a request.

A delivery row is its own outbox entry: the receiver stores it `pending` with no `queued_at`
and, in the same statement, sends a PostgreSQL `NOTIFY` on OUTBOX_CHANNEL (delivered only when
the row commits). `webhook_outbox_dispatch` claims waiting rows oldest first and queues their
processing; a claim is one `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)`, so two
dispatchers running at once never take the same row. Who runs it:

- a dispatcher thread in every Celery worker (`dispatcher.py`), woken by the `NOTIFY`, so a
  delivery reaches the broker a few milliseconds after it is stored;
- the sweeper (beat, every minute), in case no worker is running a dispatcher.

A dead broker costs the webhook request nothing: rows wait in the outbox, and whatever a
dispatcher claimed but could not publish goes back to it. A crash between claim and publish
leaves a row pending with `queued_at` set: the sweeper queues it once it is stale.
"""

from __future__ import annotations

import logging

from celery import current_app
from django.db import connection, transaction
from django.utils import timezone

from .. import queueing
from ..fairness import delivery_priorities
from ..models import DeliveryStatus, ZoomWebhookDelivery

logger = logging.getLogger(__name__)

OUTBOX_CHANNEL = "zoom_webhook_outbox"
DISPATCH_BATCH = 500


def _table() -> str:
    return connection.ops.quote_name(ZoomWebhookDelivery._meta.db_table)


def webhook_outbox_dispatch(*, limit: int = DISPATCH_BATCH, ids: list[int] | None = None) -> int:
    """Queues up to `limit` waiting deliveries, oldest first (or exactly `ids`, those still
    waiting); returns how many were queued.

    Claim, publish and the hand-back of what the broker refused commit together, so a row is
    either queued with `queued_at` set or still waiting. Without `ids`, rows another
    transaction holds (another dispatcher's claim, or a duplicate's counter being bumped) are
    skipped, not waited for: the next dispatch takes them.
    """
    if connection.vendor != "postgresql":
        return _dispatch(_claim_portable(limit=limit, ids=ids))
    table = _table()
    if ids is None:
        claim = (f"UPDATE {table} SET queued_at = now(), due_at = now() WHERE id IN ("  # noqa: S608
                 f" SELECT id FROM {table} WHERE status = 'pending' AND queued_at IS NULL"
                 "  ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id, tenant_id")
        params: list = [limit]
    else:
        claim = (f"UPDATE {table} SET queued_at = now(), due_at = now()"  # noqa: S608
                 " WHERE id = ANY(%s) AND status = 'pending' AND queued_at IS NULL"
                 " RETURNING id, tenant_id")
        params = [list(ids)]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(claim, params)
            claimed = sorted(cursor.fetchall())
        return _dispatch(claimed)


def _claim_portable(*, limit: int, ids: list[int] | None) -> list[tuple[int, int]]:
    """The claim on databases without `FOR UPDATE SKIP LOCKED` (the SQLite of `make run`,
    where one writer at a time is the rule anyway): read the waiting rows, then mark those still
    waiting. Processing claims each delivery again, so a rare double queue costs nothing."""
    waiting = ZoomWebhookDelivery.objects.filter(status=DeliveryStatus.PENDING,
                                                 queued_at__isnull=True)
    waiting = waiting.filter(pk__in=ids) if ids is not None else waiting.order_by("pk")[:limit]
    rows = list(waiting.values_list("pk", "tenant_id"))
    now = timezone.now()
    ZoomWebhookDelivery.objects.filter(pk__in=[pk for pk, _ in rows],
                                       queued_at__isnull=True).update(queued_at=now, due_at=now)
    return sorted(rows)


def _dispatch(claimed: list[tuple[int, int]]) -> int:
    """Hands claimed deliveries to the broker; what it refused goes back to waiting."""
    if not claimed:
        return 0
    with transaction.atomic():
        ids = [pk for pk, _tenant_id in claimed]
        # A tenant with many deliveries waiting does not go ahead of one with few.
        queued = queueing.webhook_deliveries_enqueue(
            delivery_ids=ids, priorities=delivery_priorities(claimed=claimed))
        if queued < len(ids):
            # The broker is away: the rest wait in the outbox for the next dispatch.
            ZoomWebhookDelivery.objects.filter(pk__in=ids[queued:]).update(queued_at=None)
    if queued < len(ids):
        logger.warning("webhook outbox: broker took %d of %d deliveries; the rest wait",
                       queued, len(ids))
    return queued


def webhook_outbox_stored(*, delivery_id: int) -> None:
    """Called by the receiver once a new delivery is committed.

    With a broker, nothing to do here: the `NOTIFY` sent with the insert wakes the dispatchers.
    In eager mode (unit tests, no worker) there is no dispatcher, so the delivery is dispatched
    and processed here and now, as a worker would.
    """
    if current_app.conf.task_always_eager:
        try:
            webhook_outbox_dispatch(ids=[delivery_id])
        except Exception:
            logger.exception("eager dispatch of delivery %s failed", delivery_id)


def webhook_outbox_backlog() -> int:
    """Deliveries stored and not yet handed to the broker (the outbox's length)."""
    return ZoomWebhookDelivery.objects.filter(status="pending", queued_at__isnull=True).count()
