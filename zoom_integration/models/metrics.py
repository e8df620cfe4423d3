"""Dashboard data after each meeting or webinar: participants and their per-minute QoS.

QoS is stored one row per participant-minute with a column per stream metric (not one row
per stream), so a 1,000-participant hour is 60,000 rows rather than 360,000.
"""

from django.db import models

from tenants.models import Tenant


class MeetingKind(models.TextChoices):
    MEETING = "meeting", "Meeting"
    WEBINAR = "webinar", "Webinar"


class Quality(models.TextChoices):
    GOOD = "good", "Good"
    POOR = "poor", "Poor"
    UNCLASSIFIED = "unclassified", "Unclassified"


class FetchStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    WAITING = "waiting", "Waiting for Zoom's data"
    FETCHING = "fetching", "Fetching"
    DONE = "done", "Fetched"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    PARKED = "parked", "Parked until the rate limit resets"
    # Zoom answered 4711: the app lacks a scope; resumed after the customer authorizes again.
    NO_SCOPE = "no_scope", "Waiting for a scope"
    # Zoom still answered 3001 after the data delay, with type=past and then pastOne.
    NO_DATA = "no_data", "No data from Zoom"


class ZoomMeeting(models.Model):
    """One meeting or webinar instance, keyed by Zoom's instance `uuid`."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="meetings")
    kind = models.CharField(max_length=8, choices=MeetingKind.choices, default=MeetingKind.MEETING)
    uuid = models.CharField(max_length=128, help_text="Zoom's instance UUID (may contain '/').")
    zoom_meeting_id = models.CharField(max_length=32, blank=True,
                                       help_text="The meeting number, shared by its instances.")
    topic = models.CharField(max_length=512, blank=True)
    host_zoom_id = models.CharField(max_length=64, blank=True)
    host_email = models.CharField(max_length=254, blank=True)
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    participants_count = models.PositiveIntegerField(
        default=0, help_text="People: join sessions of one person grouped, waiting room left out.")
    sessions_count = models.PositiveIntegerField(
        default=0, help_text="Join sessions in the meeting (waiting-room stints left out).")
    poor_participants = models.PositiveIntegerField(default=0, help_text="Poor people.")
    classified_participants = models.PositiveIntegerField(
        default=0, help_text="People classified Good or Poor.")
    worst_metric = models.CharField(max_length=200, blank=True,
                                    help_text="The reason of the worst participant, if poor.")
    quality = models.CharField(max_length=12, choices=Quality.choices,
                               default=Quality.UNCLASSIFIED)
    fetch_status = models.CharField(max_length=10, choices=FetchStatus.choices,
                                    default=FetchStatus.SCHEDULED)
    fetch_attempts = models.PositiveIntegerField(default=0)
    fetched_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    ended_event_at = models.DateTimeField(null=True, blank=True)
    qos_samples = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When a parked or waiting fetch is tried again.")
    details = models.JSONField(
        default=dict, blank=True,
        help_text="Other fields of Zoom's dashboard detail (has_video, has_pstn, custom_keys, …).")
    # Zoom's own labels from the Dashboard's meeting list (good, fair, poor or bad), kept beside
    # the portal's classification so staff can compare the two; empty until a list showed it.
    zoom_audio_quality = models.CharField(max_length=16, blank=True, default="",
                                          help_text="Zoom's own audio quality label.")
    zoom_video_quality = models.CharField(max_length=16, blank=True, default="",
                                          help_text="Zoom's own video quality label.")
    zoom_screen_share_quality = models.CharField(
        max_length=16, blank=True, default="",
        help_text="Zoom's own screen share quality label.")
    reconciled_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When Zoom's meeting list showed it missing here (no ended event arrived).")
    qos_expired_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When retention removed the per-minute QoS (per-participant results stay).")

    class Meta:
        verbose_name = "meeting"
        verbose_name_plural = "meetings and webinars"
        ordering = ["-end_time", "-pk"]
        constraints = [models.UniqueConstraint(fields=["tenant", "uuid"],
                                               name="one_meeting_per_uuid")]
        indexes = [models.Index(fields=["tenant", "end_time"])]

    def __str__(self):
        return self.topic or self.uuid


class IdentityKind(models.TextChoices):
    """What grouped a person's join sessions, strongest first."""

    USER = "user", "Zoom user"
    REGISTRANT = "registrant", "Registrant"
    CUSTOMER_KEY = "customer_key", "SDK customer key"
    EMAIL = "email", "Email"
    SESSION = "session", "One session"


class ZoomMeetingPerson(models.Model):
    """One person of a meeting: their join sessions grouped, classified over all their samples."""

    meeting = models.ForeignKey(ZoomMeeting, on_delete=models.CASCADE, related_name="people")
    position = models.PositiveIntegerField(help_text="Order of the person's first session.")
    identity_kind = models.CharField(max_length=12, choices=IdentityKind.choices)
    identity_key = models.CharField(
        max_length=300, help_text="The identifier the sessions share (lower-cased email); the "
        "session's position when it stands alone.")
    user = models.ForeignKey("zoom_integration.ZoomUser", null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="meeting_people")
    display_name = models.CharField(max_length=256, blank=True)
    email = models.CharField(max_length=254, blank=True)
    sessions_count = models.PositiveIntegerField(default=0)
    quality = models.CharField(max_length=12, choices=Quality.choices,
                               default=Quality.UNCLASSIFIED)
    quality_reason = models.TextField(blank=True,
                                      help_text='e.g. "audio input jitter 80 ms > 30 ms"')
    mos = models.FloatField(null=True, blank=True, help_text="E-model estimate (ITU-T G.107).")
    stream_summaries = models.JSONField(
        default=dict, help_text="Per stream and metric: min/avg/max over all sessions' samples.")

    class Meta:
        ordering = ["position"]
        verbose_name_plural = "meeting people"
        constraints = [
            models.UniqueConstraint(fields=["meeting", "position"], name="one_person_per_position"),
            models.UniqueConstraint(fields=["meeting", "identity_kind", "identity_key"],
                                    name="one_person_per_identity"),
        ]

    def __str__(self):
        return self.display_name or self.email or f"person {self.position}"


class ZoomParticipant(models.Model):
    """One join session of Zoom's participants list (a rejoin is another row)."""

    meeting = models.ForeignKey(ZoomMeeting, on_delete=models.CASCADE,
                                related_name="participants")
    position = models.PositiveIntegerField(
        help_text="Order in Zoom's list; guests have no id, so this keys them.")
    zoom_participant_id = models.CharField(
        max_length=64, blank=True, help_text="The participant's ID in Zoom; blank for guests.")
    person = models.ForeignKey(
        ZoomMeetingPerson, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="sessions",
        help_text="Empty for a waiting-room stint of no one who joined.")
    participant_uuid = models.CharField(max_length=128, blank=True,
                                        help_text="Zoom's id of this join session.")
    registrant_id = models.CharField(max_length=128, blank=True)
    customer_key = models.CharField(max_length=128, blank=True,
                                    help_text="Set by apps joining through Zoom's SDKs.")
    status = models.CharField(max_length=32, blank=True,
                              help_text="Zoom's status: in meeting or in the waiting room.")
    in_waiting_room = models.BooleanField(
        default=False, help_text="A waiting-room stint: stored, left out of counts and quality.")
    user = models.ForeignKey("zoom_integration.ZoomUser", null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="participations")
    user_name = models.CharField(max_length=256, blank=True)
    email = models.CharField(max_length=254, blank=True)
    device = models.CharField(max_length=128, blank=True)
    os = models.CharField(max_length=128, blank=True)
    client_version = models.CharField(max_length=64, blank=True)
    network_type = models.CharField(max_length=64, blank=True)
    connection_type = models.CharField(max_length=64, blank=True)
    location = models.CharField(max_length=256, blank=True)
    data_center = models.CharField(max_length=256, blank=True)
    ip_address = models.CharField(max_length=64, blank=True)
    zoom_user_id = models.CharField(
        max_length=64, blank=True,
        help_text="Zoom's ID of the participant in this meeting; matches the quality data to them.")
    participant_user_id = models.CharField(max_length=64, blank=True,
                                           help_text="The account user's id; blank for guests.")
    join_time = models.DateTimeField(null=True, blank=True)
    leave_time = models.DateTimeField(null=True, blank=True)
    leave_reason = models.TextField(blank=True)

    class Meta:
        verbose_name = "participant"
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["meeting", "position"],
                                               name="one_participant_per_position")]

    def __str__(self):
        return self.user_name or self.email or f"participant {self.position}"


class QosSample(models.Model):
    """The former shape of a participant-minute (JSON per stream): nothing writes it any more;
    `manage.py qos_migrate_samples` moves its rows into the compact `QosMinute` (models/qos.py),
    and `qos_store` reads a meeting from here only while it has no compact rows."""

    participant = models.ForeignKey(ZoomParticipant, on_delete=models.CASCADE,
                                    related_name="+")
    meeting = models.ForeignKey(ZoomMeeting, on_delete=models.CASCADE, related_name="+")
    sampled_at = models.DateTimeField()
    # Per stream (audio_input, audio_output, video_input, video_output, as_input, as_output):
    # {"latency_ms", "jitter_ms", "avg_loss_pct", "max_loss_pct", "bitrate_kbps",
    #  "frame_rate_fps", "resolution"}; numbers, None when Zoom sent "-" or nothing.
    metrics = models.JSONField(default=dict)
    cpu = models.JSONField(default=dict, blank=True)
    wifi = models.JSONField(default=dict, blank=True)
    unparsed = models.JSONField(default=dict, blank=True,
                                help_text="Raw strings that could not be parsed, by path.")

    class Meta:
        ordering = ["sampled_at"]
        indexes = [models.Index(fields=["participant", "sampled_at"])]

    def __str__(self):
        return f"QoS {self.participant_id} at {self.sampled_at}"
