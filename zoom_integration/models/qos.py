"""Per-minute QoS in compact form: one row per participant-minute, typed numbers per stream.

Each stream metric is a small integer column, scaled so Zoom's values fit exactly (latency and
jitter in whole ms, loss and frame rate in hundredths, bitrate in tenths of a kbps, resolution
as width and height); a value that does not fit its column, or a field Zoom adds later, goes
into `extra` (NULL for nearly every row). `qos_store.py` is the only code that writes or reads
these rows and turns them back into the per-stream dicts the rest of the app uses.

On PostgreSQL the table is partitioned by month on `meeting_ended_at` (created by migration
0003 in SQL): its primary key there is (id, meeting_ended_at), as PostgreSQL requires the
partition key in every unique constraint. Django only needs `id` to be unique, which the
identity sequence guarantees, so the model keeps `id` as its single primary key field.
"""

from django.db import models

from ..zoom import STREAMS

# (metric key in the per-stream dict, column suffix, scale) for every stream.
STREAM_METRICS = (
    ("latency_ms", "latency", 1),
    ("jitter_ms", "jitter", 1),
    ("avg_loss_pct", "loss_avg", 100),
    ("max_loss_pct", "loss_max", 100),
    ("bitrate_kbps", "bitrate", 10),
)
# Video and screen-share streams only.
PICTURE_STREAMS = ("video_input", "video_output", "as_input", "as_output")
FPS = ("frame_rate_fps", "fps", 100)
# Zoom's cpu_usage and wifi_rssi keys -> (column, scale).
CPU_COLUMNS = {"zoom_min_cpu_usage": ("cpu_zoom_min", 100),
               "zoom_avg_cpu_usage": ("cpu_zoom_avg", 100),
               "zoom_max_cpu_usage": ("cpu_zoom_max", 100),
               "system_max_cpu_usage": ("cpu_system_max", 100)}
WIFI_COLUMNS = {"max_rssi": ("wifi_max_rssi", 100), "avg_rssi": ("wifi_avg_rssi", 100),
                "min_rssi": ("wifi_min_rssi", 100)}


def _small(**kwargs):
    return models.SmallIntegerField(null=True, blank=True, **kwargs)


class QosMinute(models.Model):
    """One participant-minute of `user_qos` (see the module docstring for the encoding)."""

    participant = models.ForeignKey("zoom_integration.ZoomParticipant", on_delete=models.CASCADE,
                                    related_name="qos_samples")
    meeting = models.ForeignKey("zoom_integration.ZoomMeeting", on_delete=models.CASCADE,
                                related_name="+")
    sampled_at = models.DateTimeField()
    meeting_ended_at = models.DateTimeField(
        help_text="The meeting's end, copied here as the partition key (retention by month).")
    extra = models.JSONField(null=True, blank=True,
                             help_text="Values that fit no column, and unparsed strings, by path.")

    class Meta:
        db_table = "zoom_integration_qosminute"
        indexes = [models.Index(fields=["meeting", "participant"], name="qosminute_meeting_part")]

    def __str__(self):
        return f"QoS {self.participant_id} at {self.sampled_at}"


# The typed columns, added in a loop so their names follow one pattern (`<stream>_<metric>`).
for _stream in STREAMS:
    for _key, _suffix, _scale in STREAM_METRICS:
        QosMinute.add_to_class(f"{_stream}_{_suffix}",
                               models.IntegerField(null=True, blank=True)
                               if _suffix == "bitrate" else _small())
    if _stream in PICTURE_STREAMS:
        QosMinute.add_to_class(f"{_stream}_fps", _small())
        QosMinute.add_to_class(f"{_stream}_width", _small())
        QosMinute.add_to_class(f"{_stream}_height", _small())
for _column, _scale in (*CPU_COLUMNS.values(), *WIFI_COLUMNS.values()):
    QosMinute.add_to_class(_column, _small())
