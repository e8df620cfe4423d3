"""People against the sandbox over real HTTP: a meeting of 20 join sessions (two rejoins, two
waiting-room stints, two room systems through the Cloud Room Connector) is counted and classified
per person, with a granular app (the default since 2024) and with a classic one."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from tests.sandbox_helpers import sandbox_connect
from zoom_integration.quality import stream_summaries
from zoom_sandbox.testing import running_sandbox

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def zoom(settings):
    with running_sandbox(users=60, groups=2, meetings=0, webinars=0) as sandbox:
        settings.ZOOM_API_BASE_URL = sandbox.api_base_url
        settings.ZOOM_OAUTH_BASE_URL = sandbox.base_url
        yield sandbox


@pytest.mark.parametrize("scope_kind", ["granular", "classic"])
def test_a_meeting_with_rejoins_waiting_room_and_room_systems(zoom, tenant, scope_kind):
    from zoom_integration.models import QosMinute, ZoomMeeting, ZoomParticipant
    from zoom_integration.qos_store import qos_samples_read

    app, token = sandbox_connect(zoom, tenant, scope_kind=scope_kind)
    assert ("dashboard:read:" in token["scope"]) == (scope_kind == "granular")
    ended = zoom.end_meeting(client_id=app["client_id"], participants=20, minutes=10,
                             send_event=False)
    out = StringIO()
    call_command("zoom_fetch_metrics", tenant.slug, "--meeting", ended["uuid"], stdout=out)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])

    meeting = ZoomMeeting.objects.get(tenant=tenant, uuid=ended["uuid"])
    people = list(meeting.people.order_by("position"))
    poor = [p for p in people if p.quality == "poor"]
    assert {k: summary[k] for k in ("participants", "sessions", "waiting_room_sessions",
                                    "poor_participants")} == {
        "participants": 16, "sessions": 18, "waiting_room_sessions": 2,
        "poor_participants": len(poor)}
    assert summary["qos_samples"] == QosMinute.objects.filter(meeting=meeting).count() > 100
    assert summary["qos_warnings"] == 0
    assert summary["unknown_qos_fields"] > 0  # the rwg rows' new fields, kept
    assert (meeting.participants_count, meeting.sessions_count) == (16, 18)
    assert meeting.poor_participants == len(poor) >= 1

    def person(row):
        return ZoomParticipant.objects.get(meeting=meeting, position=row).person

    # Rejoins: row 3 is the registrant of row 2 again, row 13 the signed-in user of row 11.
    assert person(3) == person(2) and person(2).identity_kind == "registrant"
    assert ZoomParticipant.objects.get(meeting=meeting, position=3).registrant_id
    assert person(13) == person(11) and person(11).identity_kind == "user"
    assert person(11).user is None or person(11).user.zoom_id == person(11).identity_key
    # Waiting-room stints (rows 6, 16) belong to the person admitted next, and count for nothing.
    for stint, admitted in ((6, 7), (16, 17)):
        session = ZoomParticipant.objects.get(meeting=meeting, position=stint)
        assert session.in_waiting_room and session.person == person(admitted)
        assert person(admitted).sessions_count == 1
    # Guests with every identifier blank (rows 8, 18) are people of their own.
    assert person(8) != person(18) and person(8).identity_kind == "session"
    assert person(9).identity_kind == "customer_key"
    # Room systems report only in the CRC blocks: row 5 is poor, row 15 good, by that data.
    assert person(5).quality == "poor" and person(5).quality_reason
    assert person(15).quality == "good"
    assert {"audio_input", "audio_output"} <= set(person(5).stream_summaries)
    # Each person is classified over the samples of all their sessions.
    for rejoined in (person(2), person(11)):
        sessions = list(rejoined.sessions.values_list("pk", flat=True))
        samples = qos_samples_read(meeting_id=meeting.pk, participant_ids=sessions)
        assert {s.participant_id for s in samples} == set(sessions) and len(sessions) == 2
        assert rejoined.stream_summaries == stream_summaries([s.metrics for s in samples])
