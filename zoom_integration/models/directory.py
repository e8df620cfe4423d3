"""Each tenant's copy of its Zoom user directory: users, groups, memberships, sync runs."""

from django.db import models

from tenants.models import Tenant


class ZoomUserType(models.IntegerChoices):
    """Zoom's user "type" values; others may appear and are shown as their number."""

    BASIC = 1, "Basic"
    LICENSED = 2, "Licensed"
    ON_PREM = 3, "On-prem"
    NONE = 99, "None"


class ZoomUser(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="zoom_users")
    zoom_id = models.CharField(max_length=64, help_text="The user's ID in Zoom.")
    email = models.EmailField(max_length=254, blank=True)
    first_name = models.CharField(max_length=128, blank=True)
    last_name = models.CharField(max_length=128, blank=True)
    display_name = models.CharField(max_length=256, blank=True)
    user_type = models.PositiveSmallIntegerField(
        "type", null=True, blank=True, choices=ZoomUserType.choices,
        help_text="Zoom's licence type: Basic or Licensed (On-prem and None are rare).")
    status = models.CharField(max_length=16, blank=True,
                              help_text="As Zoom reports it: active, inactive or pending.")
    role_id = models.CharField(max_length=32, blank=True)
    dept = models.CharField(max_length=256, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    zoom_created_at = models.DateTimeField(null=True, blank=True)
    last_login_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(
        null=True, blank=True,
        help_text=("Set when Zoom no longer returns the user or sent user.deleted; "
                   "kept for history."))
    last_event_ts = models.BigIntegerField(
        null=True, blank=True,
        help_text="When the last user event applied here happened (Zoom's time, in milliseconds); "
                  "older events arriving late are ignored.")

    class Meta:
        verbose_name = "Zoom user"
        constraints = [models.UniqueConstraint(fields=["tenant", "zoom_id"],
                                               name="one_zoom_user_per_tenant")]
        indexes = [models.Index(fields=["tenant", "email"])]

    def __str__(self):
        return self.email or self.zoom_id


class ZoomGroup(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="zoom_groups")
    zoom_id = models.CharField(max_length=64)
    name = models.CharField(max_length=256, blank=True)
    total_members = models.PositiveIntegerField(default=0)
    synced_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "Zoom group"
        constraints = [models.UniqueConstraint(fields=["tenant", "zoom_id"],
                                               name="one_zoom_group_per_tenant")]

    def __str__(self):
        return self.name or self.zoom_id


class ZoomGroupMembership(models.Model):
    group = models.ForeignKey(ZoomGroup, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(ZoomUser, on_delete=models.CASCADE, related_name="memberships")
    synced_at = models.DateTimeField(
        null=True, blank=True,
        help_text="Last sync that saw it; a full sync removes memberships it did not see.")

    class Meta:
        verbose_name = "group membership"
        constraints = [models.UniqueConstraint(fields=["group", "user"],
                                               name="one_membership_per_group_user")]

    def __str__(self):
        return f"{self.user_id} in {self.group_id}"


class SyncRun(models.Model):
    """One full directory sync: progress shown in admin while it runs."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        # Zoom answered 4711: resumed after the customer authorizes again.
        NO_SCOPE = "no_scope", "Waiting for a scope"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="sync_runs")
    kind = models.CharField(max_length=16, default="full", help_text="users, groups or full")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING)
    phase = models.CharField(max_length=64, blank=True,
                             help_text="What the run is doing now, e.g. 'users: inactive'.")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    items_done = models.PositiveIntegerField(default=0)
    items_total = models.PositiveIntegerField(null=True, blank=True)
    users_seen = models.PositiveIntegerField(default=0)
    users_marked_deleted = models.PositiveIntegerField(default=0)
    groups_seen = models.PositiveIntegerField(default=0)
    api_calls = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = "directory sync"
        ordering = ["-started_at"]

    def __str__(self):
        return f"{self.kind} sync #{self.pk} ({self.status})"

    @property
    def progress_percent(self) -> int | None:
        if not self.items_total:
            return None
        return min(100, round(100 * self.items_done / self.items_total))


class TenantDirectory(Tenant):
    """The tenant seen from its directory: the admin page with "Sync users and groups now"."""

    class Meta:
        proxy = True
        verbose_name = "directory"
        verbose_name_plural = "directories"
