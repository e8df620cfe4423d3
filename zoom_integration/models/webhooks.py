"""Raw webhook deliveries, stored before they are acknowledged, and counts of rejections.

Thin models: fields and constraints. `zoom_integration.webhooks` owns every write. A delivery
row is also its own outbox entry: stored `pending` with no `queued_at`, it waits for the
dispatcher (`zoom_integration.webhooks.outbox`) to hand it to the broker, so the request that
stored it never talks to the broker.
"""

from django.db import models
from django.utils import timezone

from tenants.models import Tenant


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed"
    IGNORED = "ignored", "Ignored (event type not handled)"


class ZoomWebhookDelivery(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=100, db_index=True,
                             help_text="The event type Zoom sent, e.g. meeting.ended.")
    event_ts = models.BigIntegerField(
        null=True, blank=True,
        help_text="When the event happened, as Zoom stamped it (milliseconds since 1970).")
    account_id = models.CharField(max_length=64, blank=True,
                                  help_text="The Zoom account the event came from.")
    dedupe_key = models.CharField(
        max_length=300,
        help_text="Event plus the object's identity: Zoom's retries "
                  "and concurrent repeats of one event share it.")
    body = models.TextField(help_text="The raw request body as received (UTF-8).")
    headers = models.JSONField(default=dict, help_text="Selected request headers; no secrets.")
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    status = models.CharField(max_length=12, choices=DeliveryStatus.choices,
                              default=DeliveryStatus.PENDING)
    due_at = models.DateTimeField(
        default=timezone.now,
        help_text="When processing was last queued, or is due for a retry: the sweeper queues "
                  "pending deliveries whose time is well past (their queue message was lost).")
    started_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When the current or last processing attempt began (a lease: a crashed "
                  "worker's delivery is taken up again once it is old).")
    queued_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When the dispatcher handed it to the broker; empty while it waits in the "
                  "outbox (stored, not yet queued).")
    sweeps = models.PositiveIntegerField(
        default=0, help_text="Times the sweeper queued it again (each waits twice as long).")
    attempts = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0,
                                             help_text="Repeat deliveries Zoom sent of this event.")
    last_error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "dedupe_key"],
                                    name="one_delivery_per_dedupe_key"),
        ]
        indexes = [
            models.Index(fields=["status", "due_at"]),
            # The outbox: what the dispatcher claims, oldest first. Partial, so it holds only
            # the few rows waiting for the broker however many deliveries are kept.
            models.Index(fields=["id"], name="webhook_outbox",
                         condition=models.Q(status="pending", queued_at__isnull=True)),
        ]

    def __str__(self):
        return f"{self.event} #{self.pk}"


class WebhookRejection(models.Model):
    """A per-day tally of refused deliveries; their bodies are not kept."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="rejections")
    reason = models.CharField(max_length=40)
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)
    last_at = models.DateTimeField()

    class Meta:
        verbose_name = "refused delivery"
        verbose_name_plural = "refused deliveries"
        ordering = ["-day", "reason"]
        constraints = [models.UniqueConstraint(fields=["tenant", "reason", "day"],
                                               name="one_rejection_tally_per_day")]

    def __str__(self):
        return f"{self.reason} × {self.count} on {self.day}"
