"""Factories for the operator pages' tests: connections, deliveries, syncs, meetings, QoS."""

import datetime as dt

import factory
from django.utils import timezone

from tests.factories import TenantFactory
from zoom_integration.models import (
    ApiUsage,
    ConnectionState,
    DeliveryStatus,
    QosSample,
    SyncRun,
    ZoomConnection,
    ZoomGroup,
    ZoomGroupMembership,
    ZoomMeeting,
    ZoomParticipant,
    ZoomUser,
    ZoomWebhookDelivery,
)

T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


class ZoomConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ZoomConnection

    tenant = factory.SubFactory(TenantFactory)
    state = ConnectionState.CONNECTED
    access_token = "access-token-SECRET-aaaaaaaaaaaaaaaaaaaa"
    refresh_token = "refresh-token-SECRET-bbbbbbbbbbbbbbbbbbb"
    access_token_expires_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(hours=1))
    scopes = "user:read:admin group:read:admin dashboard_meetings:read:admin"
    authorized_by_email = "admin@cust.example"
    authorized_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(hours=2))
    endpoint_validated_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(hours=3))


class DeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ZoomWebhookDelivery

    tenant = factory.SubFactory(TenantFactory)
    event = "meeting.ended"
    dedupe_key = factory.Sequence(lambda n: f"meeting.ended:key{n}")
    body = "{}"
    status = DeliveryStatus.PROCESSED


class SyncRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SyncRun

    tenant = factory.SubFactory(TenantFactory)
    status = SyncRun.Status.SUCCEEDED
    finished_at = factory.LazyFunction(timezone.now)


class ZoomUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ZoomUser

    tenant = factory.SubFactory(TenantFactory)
    zoom_id = factory.Sequence(lambda n: f"U{n:06d}")
    email = factory.Sequence(lambda n: f"user{n}@cust.example")
    display_name = factory.Sequence(lambda n: f"User {n}")


class ZoomGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ZoomGroup

    tenant = factory.SubFactory(TenantFactory)
    zoom_id = factory.Sequence(lambda n: f"G{n:05d}")
    name = factory.Sequence(lambda n: f"Group {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ZoomGroupMembership


class MeetingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ZoomMeeting

    tenant = factory.SubFactory(TenantFactory)
    uuid = factory.Sequence(lambda n: f"uuid{n}+/x==")
    zoom_meeting_id = factory.Sequence(lambda n: str(86000000000 + n))
    topic = factory.Sequence(lambda n: f"Meeting {n}")
    start_time = T0
    end_time = T0 + dt.timedelta(minutes=45)
    fetch_status = "done"


class ParticipantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ZoomParticipant

    meeting = factory.SubFactory(MeetingFactory)
    position = factory.Sequence(lambda n: n)
    user_name = factory.Sequence(lambda n: f"Participant {n}")
    device = "Mac"
    os = "Mac 14.5"
    network_type = "Wifi"
    connection_type = "UDP"
    location = "Paris (FR)"
    data_center = "Frankfurt (DE)"
    quality = "good"


def add_samples(participant, *, minutes=5, latency=40.0, jitter=3.0, loss=0.1, video=True):
    """Per-minute QoS rows for a participant; audio always, video input when `video`."""
    rows = []
    for i in range(minutes):
        metrics = {"audio_input": {"latency_ms": latency + i, "jitter_ms": jitter,
                                   "avg_loss_pct": loss, "max_loss_pct": loss * 2,
                                   "bitrate_kbps": 27.3},
                   "audio_output": {"latency_ms": latency, "jitter_ms": jitter + 1,
                                    "avg_loss_pct": None}}
        if video:
            metrics["video_input"] = {"latency_ms": latency * 2, "jitter_ms": jitter * 2,
                                      "avg_loss_pct": loss, "frame_rate_fps": 25.0,
                                      "resolution": "1280*720"}
        rows.append(QosSample(participant=participant, meeting=participant.meeting,
                              sampled_at=T0 + dt.timedelta(minutes=i + 1), metrics=metrics))
    QosSample.objects.bulk_create(rows)
    return rows


def add_usage(tenant, *, calls, category="Heavy", day=None, rate_limited=0):
    return ApiUsage.objects.create(tenant=tenant, day=day or timezone.now().date(),
                                   category=category, calls=calls, rate_limited=rate_limited)
