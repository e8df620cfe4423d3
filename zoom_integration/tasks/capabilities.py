"""After a new authorization: resume the work parked on a missing scope (queue "default")."""

from celery import shared_task


@shared_task(name="zoom_integration.tasks.scope_parked_resume", acks_late=True,
             ignore_result=True)
def scope_parked_resume_task(tenant_id: int) -> dict:
    """Queues again the tenant's fetches (and directory sync) that waited for a scope."""
    from zoom_integration.capabilities import scope_parked_resume

    return scope_parked_resume(tenant_id=int(tenant_id))
