"""Celery tasks for webhook deliveries: thin wrappers taking ids (queue "webhooks" by name)."""

from celery import shared_task
from celery.signals import worker_ready, worker_shutdown

# The hard limit stays under PROCESSING_LEASE (webhooks/process.py): a killed task's delivery
# is taken up again only after its run can no longer be going on.
PROCESS_TIME_LIMIT_SECONDS = 120
# The database was unreachable before the row could be claimed: retry soon, doubling from
# 5 s up to 5 minutes.
DATABASE_RETRY_BASE_SECONDS = 5
DATABASE_RETRY_MAX_SECONDS = 300


@shared_task(bind=True, name="zoom_integration.tasks.webhook_delivery_process", max_retries=None,
             time_limit=PROCESS_TIME_LIMIT_SECONDS, soft_time_limit=PROCESS_TIME_LIMIT_SECONDS - 20)
def webhook_delivery_process_task(self, delivery_id: int) -> None:
    """Processes one stored delivery; retried with backoff while its error is transient."""
    from django.db import InterfaceError, OperationalError

    from zoom_integration.backoff import backoff_seconds
    from zoom_integration.exceptions import RetryLater
    from zoom_integration.webhooks import process

    try:
        process.webhook_delivery_process(delivery_id=delivery_id)
    except RetryLater as exc:
        # The attempt budget lives on the row (MAX_ATTEMPTS); if this retry message is lost,
        # the row is pending and the sweeper queues it.
        raise self.retry(countdown=exc.countdown, exc=exc) from exc
    except (OperationalError, InterfaceError) as exc:
        # Nothing was recorded, so try again soon (the sweeper would too, but only after its
        # backoff and the lease).
        countdown = backoff_seconds(self.request.retries + 1, base=DATABASE_RETRY_BASE_SECONDS,
                                    cap=DATABASE_RETRY_MAX_SECONDS, jitter=0)
        raise self.retry(countdown=countdown, exc=exc) from exc


@shared_task(name="zoom_integration.tasks.webhook_pending_sweep")
def webhook_pending_sweep_task() -> int:
    """Drains the webhook outbox and queues deliveries whose queue message was lost (run
    every minute by beat)."""
    from zoom_integration.webhooks.process import webhook_pending_sweep

    return webhook_pending_sweep()


# Every worker runs the webhook outbox's dispatcher thread, which queues stored deliveries as
# they commit (zoom_integration/webhooks/dispatcher.py).
@worker_ready.connect(dispatch_uid="zoom_webhook_outbox_dispatcher_start")
def _outbox_dispatcher_start(**_kwargs) -> None:
    from zoom_integration.webhooks.dispatcher import outbox_dispatcher_start

    outbox_dispatcher_start()


@worker_shutdown.connect(dispatch_uid="zoom_webhook_outbox_dispatcher_stop")
def _outbox_dispatcher_stop(**_kwargs) -> None:
    from zoom_integration.webhooks.dispatcher import outbox_dispatcher_stop

    outbox_dispatcher_stop()
