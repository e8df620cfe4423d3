"""factory_boy factories and small builders for the portal's models, shared by every test area.

Tenants and their hostnames; the Zoom connection; stored webhook deliveries (and Zoom's event
envelope); directory users, groups and memberships; sync runs; meetings, people and their join
sessions, per-minute QoS samples and API usage counts.
"""

import datetime as dt
import json

import factory
from django.utils import timezone

from tenants.models import Tenant, TenantDomain
from zoom_integration.models import (
    ApiUsage,
    ConnectionState,
    DeliveryStatus,
    QosMinute,
    SyncRun,
    ZoomConnection,
    ZoomGroup,
    ZoomGroupMembership,
    ZoomMeeting,
    ZoomMeetingPerson,
    ZoomParticipant,
    ZoomUser,
    ZoomWebhookDelivery,
)
from zoom_integration.qos_store import qos_samples_write

# A fixed start for meetings and their samples.
T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


# -- tenants ----------------------------------------------------------------------------------

class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"customer{n}")
    name = factory.Sequence(lambda n: f"Customer {n}")
    client_id = factory.Sequence(lambda n: f"clientId{n:012d}")
    client_secret = factory.Sequence(lambda n: f"clientSecret{n:020d}")
    secret_token = factory.Sequence(lambda n: f"secretToken{n:021d}")
    primary_domain = factory.RelatedFactory(
        "tests.factories.TenantDomainFactory", factory_related_name="tenant",
        domain=factory.LazyAttribute(lambda o: f"{o.factory_parent.slug}.portal.test"),
        is_primary=True)


class TenantDomainFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TenantDomain

    tenant = factory.SubFactory(TenantFactory, primary_domain=None)
    domain = factory.Sequence(lambda n: f"host{n}.portal.test")


# -- Zoom connection and webhook deliveries -------------------------------------------------------

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


def envelope(event: str, obj: dict | None = None, *, account_id: str = "Aq7Zp1",
             event_ts: int = 1717000000123, **payload) -> dict:
    """Zoom's common envelope (docs/zoom.md, "Events the portal uses")."""
    return {"event": event, "event_ts": event_ts,
            "payload": {"account_id": account_id, **payload, "object": obj or {}}}


class ZoomWebhookDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ZoomWebhookDelivery

    class Params:
        envelope = factory.LazyAttribute(
            lambda o: envelope(o.event, {"id": "86012345678", "uuid": f"uuid-{o.sequence}=="}))
        sequence = factory.Sequence(lambda n: n)

    tenant = factory.SubFactory(TenantFactory)
    event = "meeting.ended"
    event_ts = factory.LazyAttribute(lambda o: o.envelope.get("event_ts"))
    account_id = "Aq7Zp1"
    dedupe_key = factory.Sequence(lambda n: f"test:{n}")
    body = factory.LazyAttribute(lambda o: json.dumps(o.envelope))
    status = DeliveryStatus.PENDING
    # Already handed to the broker, as a stored delivery is moments after it arrives; tests of
    # the outbox itself pass queued_at=None.
    queued_at = factory.LazyFunction(timezone.now)


# -- directory, syncs, meetings and QoS ----------------------------------------------------------

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


class PersonFactory(factory.django.DjangoModelFactory):
    """A person of a meeting; `quality`, `mos`, `quality_reason` are the per-person results."""

    class Meta:
        model = ZoomMeetingPerson

    meeting = factory.SubFactory(MeetingFactory)
    position = factory.Sequence(lambda n: n)
    identity_kind = "session"
    identity_key = factory.LazyAttribute(lambda o: str(o.position))
    display_name = factory.Sequence(lambda n: f"Participant {n}")
    sessions_count = 1
    quality = "good"


class ParticipantFactory(factory.django.DjangoModelFactory):
    """One join session, by default the only session of a person of its own (pass
    `person__quality=...` for that person's result, or `person=` to add a rejoin)."""

    class Meta:
        model = ZoomParticipant

    meeting = factory.SubFactory(MeetingFactory)
    position = factory.Sequence(lambda n: n)
    person = factory.SubFactory(
        PersonFactory, meeting=factory.SelfAttribute("..meeting"),
        position=factory.SelfAttribute("..position"),
        display_name=factory.SelfAttribute("..user_name"), user=factory.SelfAttribute("..user"))
    user = None
    user_name = factory.Sequence(lambda n: f"Participant {n}")
    device = "Mac"
    os = "Mac 14.5"
    network_type = "Wifi"
    connection_type = "UDP"
    location = "Paris (FR)"
    data_center = "Frankfurt (DE)"
    status = "in_meeting"


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
        rows.append((participant.pk, participant.meeting_id, T0 + dt.timedelta(minutes=i + 1),
                     metrics, {}, {}, {}))
    meeting = participant.meeting
    qos_samples_write(ended_at=meeting.end_time or T0 + dt.timedelta(minutes=minutes),
                      rows=rows)
    return list(QosMinute.objects.filter(participant=participant).order_by("sampled_at"))


def add_usage(tenant, *, calls, category="Heavy", day=None, rate_limited=0):
    return ApiUsage.objects.create(tenant=tenant, day=day or timezone.now().date(),
                                   category=category, calls=calls, rate_limited=rate_limited)
