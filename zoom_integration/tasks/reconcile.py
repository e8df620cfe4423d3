"""Reconcile and account-overview tasks: thin wrappers taking ids (queue "sync", by name prefix).

Both list things from Zoom's Dashboard and then hand work on (reconcile queues metrics fetches
by itself), like the directory sync; on the "sync" queue they never delay a metrics fetch.
Neither retries itself: what a run could not finish stays pending on the tenant, and the beat
fan-out queues it again when due (after a rate-limit reset, for example).
"""

from celery import shared_task


@shared_task(name="zoom_integration.tasks.sync_reconcile_tenant", acks_late=True,
             ignore_result=True)
def sync_reconcile_tenant_task(tenant_id: int) -> dict:
    """One tenant: the scheduled window, then every window still pending (e.g. a backfill)."""
    from zoom_integration.reconcile import reconcile_tenant_attempt

    return reconcile_tenant_attempt(tenant_id=int(tenant_id))


@shared_task(name="zoom_integration.tasks.sync_reconcile_due", acks_late=True,
             ignore_result=True)
def sync_reconcile_due_task() -> int:
    """Beat: queues a reconcile for each connected tenant that is due."""
    from zoom_integration.reconcile import reconcile_due_enqueue

    return reconcile_due_enqueue()


@shared_task(name="zoom_integration.tasks.sync_overview_tenant", acks_late=True,
             ignore_result=True)
def sync_overview_tenant_task(tenant_id: int) -> dict:
    """One tenant's account overview, fetched now."""
    from zoom_integration.overview import overview_tenant_attempt

    return overview_tenant_attempt(tenant_id=int(tenant_id))


@shared_task(name="zoom_integration.tasks.sync_overview_due", acks_late=True,
             ignore_result=True)
def sync_overview_due_task() -> int:
    """Beat: queues the overview of each connected tenant fetched more than a day ago."""
    from zoom_integration.overview import overview_due_enqueue

    return overview_due_enqueue()
