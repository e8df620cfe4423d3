"""The one Celery beat schedule of the Zoom integration (settings read it as CELERY_BEAT_SCHEDULE).

Entries name tasks by their registered names; queues follow the routes in settings. The
database scheduler copies these entries into its tables, so a task name never changes.
"""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "zoom-webhook-pending-sweep": {
        "task": "zoom_integration.tasks.webhook_pending_sweep",
        "schedule": 60.0,
    },
    "zoom-tokens-refresh-due": {
        "task": "zoom_integration.tasks.tokens_refresh_due",
        "schedule": 600.0,
    },
    # Fans out per tenant by its sync_interval_hours (default 24, i.e. nightly-ish).
    "zoom-sync-due-tenants": {
        "task": "zoom_integration.tasks.sync_due_tenants",
        "schedule": crontab(minute="*/15"),
    },
    "zoom-metrics-parked-resume": {
        "task": "zoom_integration.tasks.metrics_parked_resume",
        "schedule": 300.0,
    },
    # Fans out per connected tenant: every ZOOM_RECONCILE_INTERVAL_MINUTES (default hourly),
    # sooner for pending windows (a backfill, the rest after a rate-limit reset); the account
    # overview once a day.
    "zoom-reconcile-due": {
        "task": "zoom_integration.tasks.sync_reconcile_due",
        "schedule": crontab(minute="*/10"),
    },
    "zoom-overview-due": {
        "task": "zoom_integration.tasks.sync_overview_due",
        "schedule": crontab(minute="17"),
    },
    # Per-minute QoS: next months' partitions created ahead, and the retention, once a day.
    "zoom-metrics-qos-partitions-ensure": {
        "task": "zoom_integration.tasks.metrics_qos_partitions_ensure",
        "schedule": crontab(minute="5", hour="1"),
    },
    "zoom-metrics-qos-retention": {
        "task": "zoom_integration.tasks.metrics_qos_retention",
        "schedule": crontab(minute="35", hour="1"),
    },
}
