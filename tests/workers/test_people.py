"""People, not join sessions: grouping rules, per-person classification, room systems' CRC
blocks, unknown fields and unreadable QoS blocks, through the fetch (Zoom faked with
`responses`) and the pure grouping rule."""

import json
from io import StringIO
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.core.management import call_command

from zoom_integration.metrics import dashboard_metrics_fetch
from zoom_integration.models import (
    ZoomMeeting,
    ZoomMeetingPerson,
    ZoomParticipant,
    ZoomUser,
)
from zoom_integration.people import people_group, session_identity
from zoom_integration.qos_store import qos_samples_read

from .conftest import API

UUID = "pe0ple+/Rejoin=="
PATH = f"{API}/metrics/meetings/pe0ple%2B%2FRejoin%3D%3D"


# -- the pure rule -------------------------------------------------------------------------------

def _session(position, *, puid="", pid="", registrant="", key="", email="", waiting=False):
    return SimpleNamespace(position=position, participant_user_id=puid, zoom_participant_id=pid,
                           registrant_id=registrant, customer_key=key, email=email,
                           in_waiting_room=waiting)


def test_identity_takes_the_first_identifier_in_order():
    everything = _session(0, puid="U1", pid="U1", registrant="R", key="K", email="a@x.example")
    assert session_identity(everything) == ("user", "U1")
    assert session_identity(_session(1, pid="U2", registrant="R")) == ("user", "U2")
    assert session_identity(_session(2, registrant="R", key="K", email="a@x")) == ("registrant",
                                                                                  "R")
    assert session_identity(_session(3, key="K", email="a@x")) == ("customer_key", "K")
    assert session_identity(_session(4, email=" A@X.Example ")) == ("email", "a@x.example")
    assert session_identity(_session(5)) == ("session", "5")
    assert session_identity(_session(6, puid="  ", email="b@x")) == ("email", "b@x")


def test_grouping_rejoins_waiting_room_and_blank_sessions():
    sessions = [
        _session(0, puid="U1"), _session(1, puid="U1"),               # a rejoin
        _session(2, email="Eve@X.example"), _session(3, email="eve@x.example"),
        _session(4), _session(5),                                    # two blank guests
        _session(6, puid="U9", waiting=True), _session(7, puid="U9"),  # admitted
        _session(8, waiting=True),                                   # waited, never joined
        _session(9, registrant="R1", email="shared@x"),
        _session(10, registrant="R2", email="shared@x"),             # registrant before email
        _session(11, puid="U5", email="eve@x.example"),              # kinds never merge
    ]
    people, orphans = people_group(sessions)
    assert [(p.kind, p.key, [s.position for s in p.sessions], [s.position for s in p.waiting])
            for p in people] == [
        ("user", "U1", [0, 1], []), ("email", "eve@x.example", [2, 3], []),
        ("session", "4", [4], []), ("session", "5", [5], []), ("user", "U9", [7], [6]),
        ("registrant", "R1", [9], []), ("registrant", "R2", [10], []), ("user", "U5", [11], []),
    ]
    assert [s.position for s in orphans] == [8]


# -- through the fetch ---------------------------------------------------------------------------

def _row(p, **fields):
    row = {"id": "", "user_id": str(5000 + p), "participant_user_id": "",
           "participant_uuid": f"uuid-{p}", "user_name": f"Person {p}", "email": "",
           "registrant_id": "", "customer_key": "", "status": "in_meeting", "device": "Mac",
           "network_type": "Wifi", "join_time": f"2026-05-29T09:{p:02d}:00Z",
           "leave_time": "2026-05-29T09:50:00Z"}
    row.update(fields)
    return row


def _block(latency="40 ms", jitter="3 ms"):
    return {"bitrate": "30 kbps", "latency": latency, "jitter": jitter, "avg_loss": "0.1%",
            "max_loss": "0.5%"}


def _samples(n, **block):
    return [{"date_time": f"2026-05-29T09:{10 + i:02d}:00Z", "audio_input": _block(**block)}
            for i in range(n)]


ROWS = [
    _row(0, id="U0", participant_user_id="U0", email="host@cust.example"),
    _row(1, id="U0", participant_user_id="U0", email="host@cust.example"),  # rejoin
    _row(2, registrant_id="R1", email="guest@partner.example"),
    _row(3, registrant_id="R1", email="guest@partner.example"),  # rejoin, registrant
    _row(4, customer_key="ck-1", user_name="Kiosk"),
    _row(5, customer_key="ck-1", user_name="Kiosk"),  # rejoin through the SDK
    _row(6, email="Eve@Guest.example"),
    _row(7, email="eve@guest.example"),  # the same guest, other case
    _row(8, user_name=""), _row(9, user_name=""),  # every identifier blank: two people
    _row(10, id="U9", participant_user_id="U9", status="in_waiting_room"),
    _row(11, id="U9", participant_user_id="U9"),  # admitted
    _row(12, status="in_waiting_room"),  # waited, never joined
    _row(13, registrant_id="R2", email="shared@partner.example"),
    _row(14, registrant_id="R3", email="shared@partner.example"),  # another registrant
    _row(15, id="U15", participant_user_id="U15", email="eve@guest.example"),
    _row(16, device="H.323/SIP", user_name="Conference Room"),  # a room system
]
EMPTY = {k: {} for k in ("audio_input", "audio_output", "video_input", "video_output")}
QOS = {
    # The host: good first session, bad rejoin: one person, Poor over all samples.
    0: _samples(2, jitter="3 ms"), 1: _samples(2, jitter="80 ms"),
    # The registrant: one sample per session, too few alone, enough together.
    2: _samples(1), 3: _samples(1),
    # The SDK person: unknown new fields, an unreadable video block, good audio.
    4: [{**s, "video_connection_type": "UDP", "cpu_pressure": {"level": "nominal"},
         "video_input": {"frame_rate": "fast"}} for s in _samples(2)],
    # The room system: the usual blocks empty, its media only in the CRC blocks.
    16: [{"date_time": f"2026-05-29T09:{10 + i:02d}:00Z", **EMPTY,
          "audio_device_from_crc": _block(latency="620 ms"),
          "audio_device_to_crc": _block()} for i in range(3)],
}


def _serve(rows=ROWS, qos=QOS, extra_qos=()):
    responses.get(PATH, json={"uuid": UUID, "topic": "Rejoins", "participants": len(rows),
                              "start_time": "2026-05-29T09:00:00Z",
                              "end_time": "2026-05-29T09:50:00Z"})
    responses.get(f"{PATH}/participants", json={"participants": rows, "next_page_token": ""})
    entries = [{k: row[k] for k in ("id", "user_id", "user_name", "device", "join_time")}
               | {"user_qos": qos.get(p, [])} for p, row in enumerate(rows)]
    entries.extend(extra_qos)

    def paged(request):
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        start = int(query.get("next_page_token") or 0)
        token = str(start + 10) if start + 10 < len(entries) else ""
        return 200, {}, json.dumps({"participants": entries[start:start + 10],
                                    "next_page_token": token})
    responses.add_callback(responses.GET, f"{PATH}/participants/qos", callback=paged)


def _people(meeting):
    return {p.position: p for p in ZoomMeetingPerson.objects.filter(meeting=meeting)}


def _person_of(meeting, position):
    return ZoomParticipant.objects.get(meeting=meeting, position=position).person


@pytest.mark.django_db
@responses.activate
def test_sessions_grouped_into_people_and_classified_per_person(connected):
    _serve()
    meeting = ZoomMeeting.objects.create(tenant=connected, uuid=UUID)
    summary = dashboard_metrics_fetch(tenant=connected, meeting=meeting)

    # registrant_id comes back only when asked for.
    listed = [c for c in responses.calls if urlsplit(c.request.url).path.endswith("/participants")]
    assert parse_qs(urlsplit(listed[0].request.url).query)["include_fields"] == ["registrant_id"]
    # 17 rows: 2 waiting-room stints; 4 rejoins; so 15 sessions and 11 people.
    assert {k: summary[k] for k in ("participants", "sessions", "waiting_room_sessions",
                                    "poor_participants", "good_participants",
                                    "unclassified_participants")} == {
        "participants": 11, "sessions": 15, "waiting_room_sessions": 2,
        "poor_participants": 2, "good_participants": 2, "unclassified_participants": 7}
    meeting.refresh_from_db()
    assert (meeting.participants_count, meeting.sessions_count, meeting.poor_participants,
            meeting.classified_participants) == (11, 15, 2, 4)

    host = _person_of(meeting, 0)
    assert host == _person_of(meeting, 1) and host.sessions_count == 2
    assert (host.identity_kind, host.identity_key) == ("user", "U0")
    # One verdict over both sessions: avg jitter (3 + 3 + 80 + 80) / 4 = 41.5 ms.
    assert host.quality == "poor" and host.quality_reason == "audio input jitter 41.5 ms > 30 ms"
    assert host.stream_summaries["audio_input"]["samples"] == 4
    registrant = _person_of(meeting, 2)
    assert registrant == _person_of(meeting, 3) and registrant.identity_kind == "registrant"
    assert registrant.quality == "good"  # 1 + 1 samples: classified only together
    sdk = _person_of(meeting, 4)
    assert sdk == _person_of(meeting, 5) and sdk.identity_kind == "customer_key"
    eve = _person_of(meeting, 6)
    assert eve == _person_of(meeting, 7) and eve.identity_key == "eve@guest.example"
    assert _person_of(meeting, 15) != eve  # a signed-in user is not matched by email
    assert _person_of(meeting, 8) != _person_of(meeting, 9)
    assert _person_of(meeting, 8).identity_kind == "session"
    assert _person_of(meeting, 13) != _person_of(meeting, 14)  # registrant before email
    admitted = _person_of(meeting, 11)
    assert _person_of(meeting, 10) == admitted and admitted.sessions_count == 1
    stint = ZoomParticipant.objects.get(meeting=meeting, position=12)
    assert stint.person is None and stint.in_waiting_room and stint.status == "in_waiting_room"
    room = _person_of(meeting, 16)
    assert room.quality == "poor"
    assert room.quality_reason == "audio input round trip 620 ms > 500 ms"
    assert set(room.stream_summaries) == {"audio_input", "audio_output"}
    # Every person has exactly one verdict; sessions carry the raw identifiers.
    assert ZoomMeetingPerson.objects.filter(meeting=meeting).count() == 11
    second = ZoomParticipant.objects.get(meeting=meeting, position=3)
    assert (second.registrant_id, second.participant_uuid) == ("R1", "uuid-3")
    assert ZoomParticipant.objects.get(meeting=meeting, position=5).customer_key == "ck-1"


@pytest.mark.django_db
@responses.activate
def test_unknown_fields_kept_and_unreadable_blocks_counted(connected):
    _serve()
    meeting = ZoomMeeting.objects.create(tenant=connected, uuid=UUID)
    summary = dashboard_metrics_fetch(tenant=connected, meeting=meeting)
    # Row 4's two samples: each an unreadable video block and two unknown fields.
    assert (summary["qos_warnings"], summary["unknown_qos_fields"]) == (2, 4)
    session = ZoomParticipant.objects.get(meeting=meeting, position=4)
    sample = qos_samples_read(meeting_id=meeting.pk, participant_ids=[session.pk])[0]
    assert sample.unparsed == {"video_connection_type": "UDP",
                               "cpu_pressure": {"level": "nominal"},
                               "video_input.frame_rate": "fast"}
    assert set(sample.metrics) == {"audio_input"}  # the rest of the sample kept
    assert _person_of(meeting, 4).quality == "good"


@pytest.mark.django_db
@responses.activate
def test_qos_only_entries_link_to_directory_users_by_id(connected):
    user = ZoomUser.objects.create(tenant=connected, zoom_id="U77", email="late@cust.example")
    late = {"id": "U77", "user_id": "9999", "user_name": "Late", "user_qos": _samples(2)}
    _serve(rows=ROWS[:2], qos={}, extra_qos=[late])
    meeting = ZoomMeeting.objects.create(tenant=connected, uuid=UUID)
    summary = dashboard_metrics_fetch(tenant=connected, meeting=meeting)
    assert (summary["participants"], summary["sessions"]) == (2, 3)
    session = ZoomParticipant.objects.get(meeting=meeting, zoom_user_id="9999")
    assert session.user == user and session.participant_user_id == ""
    assert session.person.user == user and session.person.identity_key == "U77"
    assert session.person.quality == "good"


@pytest.mark.django_db
@responses.activate
def test_command_summary_counts_people(connected):
    _serve()
    out = StringIO()
    call_command("zoom_fetch_metrics", connected.slug, "--meeting", UUID, stdout=out)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert {k: summary[k] for k in ("participants", "sessions", "qos_samples",
                                    "poor_participants", "qos_warnings")} == {
        "participants": 11, "sessions": 15, "qos_samples": 11, "poor_participants": 2,
        "qos_warnings": 2}
