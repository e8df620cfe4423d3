"""Per tenant: where the reconcile against Zoom's meeting lists stands, and the account overview.

`ZoomReconcileState` remembers the windows still to list (so a run stopped by Zoom's daily limit
continues after the reset and nothing is lost), the progress of the current job (a backfill after
connecting shows "windows done / total" to staff) and the outcome of the last run.
`ZoomAccountOverview` keeps Zoom's own account overview answers, one JSON per section, with the
error of each section that could not be fetched. Thin models: `zoom_integration.reconcile` and
`zoom_integration.overview` own every write.
"""

from django.db import models

from tenants.models import Tenant


class ReconcileStatus(models.TextChoices):
    IDLE = "idle", "Idle"
    RUNNING = "running", "Running"
    DONE = "done", "Up to date"
    WAITING = "waiting", "Waiting for Zoom's rate limit"
    FAILED = "failed", "Failed"
    UNAVAILABLE = "unavailable", "Dashboard not available"


class ZoomReconcileState(models.Model):
    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE,
                                  related_name="zoom_reconcile")
    status = models.CharField(max_length=12, choices=ReconcileStatus.choices,
                              default=ReconcileStatus.IDLE)
    pending = models.JSONField(
        default=list, blank=True,
        help_text='Windows still to list, newest first: [{"kind", "from", "to", "origin"}]. '
                  "Dates are yyyy-mm-dd; each window spans at most Zoom's one-month limit.")
    job_total = models.PositiveIntegerField(default=0, help_text="Windows in the current job.")
    job_done = models.PositiveIntegerField(default=0,
                                           help_text="Windows of the current job listed.")
    job_origin = models.CharField(max_length=16, blank=True,
                                  help_text="What started the current job: hourly, backfill, "
                                            "command.")
    backfill_requested_at = models.DateTimeField(null=True, blank=True)
    backfill_days = models.PositiveIntegerField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True,
                                     help_text="When a run was last queued for a worker.")
    run_started_at = models.DateTimeField(
        null=True, blank=True,
        help_text="Set while a run holds the tenant (a lease: a crashed run is taken over once "
                  "it is old).")
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_complete_at = models.DateTimeField(
        null=True, blank=True, help_text="When a run last finished every window it had.")
    waiting_until = models.DateTimeField(
        null=True, blank=True, help_text="Zoom's limit resets then; the rest waits until it.")
    last_error = models.TextField(blank=True)
    last_summary = models.JSONField(default=dict, blank=True)
    meetings_found = models.PositiveIntegerField(
        default=0, help_text="Meetings and webinars found missing, in all runs.")

    class Meta:
        verbose_name = "reconcile state"

    def __str__(self):
        return f"reconcile of {self.tenant_id} ({self.status})"

    @property
    def progress_percent(self) -> int | None:
        if not self.job_total:
            return None
        return min(100, round(100 * self.job_done / self.job_total))


class ZoomAccountOverview(models.Model):
    """Zoom's account overview for one tenant, as last fetched (one row per tenant)."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE,
                                  related_name="zoom_overview")
    fetched_at = models.DateTimeField(null=True, blank=True)
    days = models.PositiveIntegerField(default=7, help_text="Days of quality counts fetched.")
    quality = models.JSONField(
        default=dict, blank=True,
        help_text='Per day (yyyy-mm-dd): Zoom\'s "quality" object, audio/video/screen_share '
                  "counts of good, fair, poor and bad.")
    client_versions = models.JSONField(default=dict, blank=True,
                                       help_text="Zoom's answer of /metrics/client_versions.")
    zoom_rooms = models.JSONField(default=dict, blank=True,
                                  help_text='{"zoom_rooms": [...]} from /metrics/zoomrooms.')
    top_rooms = models.JSONField(default=dict, blank=True,
                                 help_text="Zoom's answer of /metrics/issues/zoomrooms.")
    top_issues = models.JSONField(default=dict, blank=True,
                                  help_text="Zoom's answer of /metrics/zoomrooms/issues.")
    errors = models.JSONField(
        default=dict, blank=True,
        help_text='Per section that failed: {"kind", "message", "code"}; kind is '
                  "missing_scope, no_dashboard, rate_limited or error.")
    api_calls = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "account overview"

    def __str__(self):
        return f"overview of {self.tenant_id}"
