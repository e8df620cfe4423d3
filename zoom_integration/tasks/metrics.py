"""Metrics tasks: thin wrappers around `zoom_integration.metrics` (queue "metrics").

They take ids only, import services inside the body, and are idempotent: a fetch replaces the
meeting's rows, and a redelivered task for a finished meeting does nothing.
"""

from celery import shared_task


@shared_task(bind=True, name="zoom_integration.tasks.metrics_fetch", acks_late=True,
             max_retries=None, ignore_result=True)
def metrics_fetch_task(self, meeting_id: int) -> dict:
    """Fetches one meeting's dashboard data; retry/park decisions live in the service.

    Within its tenant's share of the workers (`fairness`): a tenant already running its share
    sends this fetch back to the queue for a moment, and the worker takes the next message.
    """
    from zoom_integration.exceptions import RetryLater
    from zoom_integration.fairness import (
        LOWEST_PRIORITY,
        TenantAtCapacity,
        meeting_fetch_slot,
        refused_fetch_countdown,
    )
    from zoom_integration.metrics import metrics_fetch_attempt

    try:
        with meeting_fetch_slot(meeting_id=int(meeting_id), holder=self.request.id or "local"):
            return metrics_fetch_attempt(meeting_id=int(meeting_id))
    except TenantAtCapacity as busy:
        # Back after the older fetches of its tenant waiting ahead of it: a backlog keeps its
        # oldest-first order through the refusals.
        raise self.retry(countdown=refused_fetch_countdown(meeting_id=int(meeting_id)),
                         priority=LOWEST_PRIORITY) from busy
    except RetryLater as later:
        raise self.retry(countdown=later.countdown) from later


@shared_task(name="zoom_integration.tasks.metrics_parked_resume", acks_late=True,
             ignore_result=True)
def metrics_parked_resume_task() -> int:
    """Beat: re-queues fetches parked on Zoom's daily limit once it has reset."""
    from zoom_integration.metrics import metrics_parked_resume

    return metrics_parked_resume()


@shared_task(name="zoom_integration.tasks.metrics_failed_requeue", acks_late=True,
             ignore_result=True)
def metrics_failed_requeue_task(tenant_id: int) -> int:
    """After a new authorization: queues the tenant's failed fetches again."""
    from tenants.models import Tenant
    from zoom_integration.metrics import metrics_failed_requeue

    tenant = Tenant.objects.filter(pk=int(tenant_id)).first()
    return metrics_failed_requeue(tenant=tenant) if tenant is not None else 0
