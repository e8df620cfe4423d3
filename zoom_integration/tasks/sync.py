"""Directory sync tasks: thin wrappers around `zoom_integration.directory` (queue "sync").

`sync_due_tenants_task` (beat) fans out one `sync_tenant_directory_task` per active tenant
whose last successful sync is older than its `sync_interval_hours`. A sync stopped by Zoom's
daily limit parks the tenant until the reset instead of retrying.
"""

from celery import shared_task


@shared_task(bind=True, name="zoom_integration.tasks.sync_tenant_directory", acks_late=True,
             max_retries=5, ignore_result=True)
def sync_tenant_directory_task(self, tenant_id: int) -> dict:
    """One tenant's full sync, holding one of the tenant's fetch slots (`fairness`) so that the
    tenant's sync and meeting fetches together stay within its share of the workers."""
    from zoom_integration.directory import tenant_directory_sync_attempt
    from zoom_integration.exceptions import RetryLater
    from zoom_integration.fairness import TenantAtCapacity, tenant_fetch_slot

    try:
        with tenant_fetch_slot(tenant_id=int(tenant_id), holder=self.request.id or "local"):
            return tenant_directory_sync_attempt(tenant_id=int(tenant_id))
    except TenantAtCapacity as busy:
        # Waiting for its own tenant's fetches is not a failure: no retry budget spent.
        raise self.retry(countdown=busy.countdown(refusals=self.request.retries),
                         max_retries=None) from busy
    except RetryLater as later:
        raise self.retry(countdown=later.countdown) from later


@shared_task(name="zoom_integration.tasks.sync_due_tenants", acks_late=True, ignore_result=True)
def sync_due_tenants_task() -> int:
    from zoom_integration.directory import tenants_due_sync_enqueue

    return tenants_due_sync_enqueue()
