"""Per-minute QoS upkeep (queue "metrics", by name prefix): partitions ahead, and retention.

Both are beat tasks run once a day; each is idempotent, so a missed or repeated run is harmless.
"""

from celery import shared_task


@shared_task(name="zoom_integration.tasks.metrics_qos_partitions_ensure", acks_late=True,
             ignore_result=True)
def metrics_qos_partitions_ensure_task() -> list[str]:
    """Creates this month's and the next months' sample partitions (PostgreSQL only)."""
    from zoom_integration.qos_store import qos_partitions_ensure

    return qos_partitions_ensure()


@shared_task(name="zoom_integration.tasks.metrics_qos_retention", acks_late=True,
             ignore_result=True)
def metrics_qos_retention_task() -> dict:
    """Removes per-minute samples older than QOS_RETENTION_DAYS; results stay."""
    from django.conf import settings

    from zoom_integration.qos_store import qos_retention

    return qos_retention(days=settings.QOS_RETENTION_DAYS)
