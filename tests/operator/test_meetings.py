"""Meeting quality: annotated list, filters, CSV of exactly what the filters show, the page."""

import csv
import datetime as dt
import io
import xml.etree.ElementTree as ET

import pytest

from tests.factories import (
    T0,
    MeetingFactory,
    MembershipFactory,
    ParticipantFactory,
    TenantFactory,
    ZoomGroupFactory,
    ZoomUserFactory,
    add_samples,
)
from zoom_integration.selectors.meetings import (
    PersonSeries,
    meeting_qos_series,
    meeting_quality_list,
    meeting_summary_series,
)

pytestmark = pytest.mark.django_db

LIST = "/admin/zoom_integration/zoommeeting/"
CSV = "/admin/zoom_integration/zoommeeting/csv/"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def world():
    """Two tenants; acme has a poor meeting (Ana), a good webinar (Bob's group), an old one."""
    acme, other = TenantFactory(name="Acme"), TenantFactory(name="Other")
    ana = ZoomUserFactory(tenant=acme, email="ana@acme.test")
    bob = ZoomUserFactory(tenant=acme, email="bob@acme.test")
    sales = ZoomGroupFactory(tenant=acme, name="Sales")
    MembershipFactory(group=sales, user=bob)
    poor = MeetingFactory(tenant=acme, topic="Weekly sync", quality="poor",
                          worst_metric="stale")
    ParticipantFactory(meeting=poor, user=ana, person__quality="poor", person__mos=2.1,
                       person__quality_reason="audio input jitter 80 ms > 30 ms")
    ParticipantFactory(meeting=poor, person__quality="poor", person__mos=3.2,
                       person__quality_reason="video input loss 16% > 15%")
    ParticipantFactory(meeting=poor, person__quality="good")
    ParticipantFactory(meeting=poor, person__quality="unclassified")
    webinar = MeetingFactory(tenant=acme, topic="Town hall", kind="webinar", quality="good",
                             host_zoom_id=bob.zoom_id, end_time=T0 + dt.timedelta(days=1))
    ParticipantFactory(meeting=webinar, person__quality="good")
    old = MeetingFactory(tenant=acme, topic="Old one", quality="good",
                         end_time=T0 - dt.timedelta(days=30))
    MeetingFactory(tenant=other, topic="Elsewhere", quality="poor")
    return {"acme": acme, "other": other, "ana": ana, "bob": bob, "sales": sales, "poor": poor,
            "webinar": webinar, "old": old}


def topics(qs):
    return sorted(m.topic for m in qs)


def read_csv(response):
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_annotations_share_and_worst(world):
    meeting = meeting_quality_list(tenant=world["acme"]).get(pk=world["poor"].pk)
    assert (meeting.q_participants, meeting.q_poor, meeting.q_classified) == (4, 2, 3)
    assert meeting.q_poor_share == pytest.approx(2 / 3)
    assert meeting.q_worst == "audio input jitter 80 ms > 30 ms"  # the lowest MOS
    empty = MeetingFactory(tenant=world["acme"])
    row = meeting_quality_list().get(pk=empty.pk)
    assert row.q_poor_share is None and row.q_participants == 0


def test_selector_filters(world):
    acme = world["acme"]
    assert topics(meeting_quality_list(tenant=acme)) == ["Old one", "Town hall", "Weekly sync"]
    assert topics(meeting_quality_list(tenant=acme, quality="poor")) == ["Weekly sync"]
    assert topics(meeting_quality_list(kind="webinar")) == ["Town hall"]
    assert topics(meeting_quality_list(user_id=world["ana"].pk)) == ["Weekly sync"]
    assert topics(meeting_quality_list(user_id=world["bob"].pk)) == ["Town hall"]  # as host
    assert topics(meeting_quality_list(group_id=world["sales"].pk)) == ["Town hall"]
    assert topics(meeting_quality_list(tenant=acme, date_from=T0.date(),
                                       date_to=T0.date())) == ["Weekly sync"]


def test_list_page_columns_and_no_n_plus_one(staff_client, world, django_assert_max_num_queries):
    for i in range(15):
        m = MeetingFactory(tenant=world["acme"], topic=f"Extra {i}")
        ParticipantFactory(meeting=m, person__quality="poor", person__quality_reason="x")
    client = staff_client("zoom_integration.view_zoommeeting")
    with django_assert_max_num_queries(15):
        response = client.get(LIST, {"tenant__id__exact": world["acme"].pk})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Weekly sync" in html and "Elsewhere" not in html
    assert "67%" in html and "audio input jitter 80 ms &gt; 30 ms" in html
    assert "Export CSV" in html
    assert "ana@acme.test" in html and "Sales" in html  # user and group filters, per tenant
    assert "Add zoom meeting" not in html


def test_list_filters_in_the_admin(staff_client, world):
    client = staff_client("zoom_integration.view_zoommeeting")
    html = client.get(LIST, {"group": world["sales"].pk}).content.decode()
    assert "Town hall" in html and "Weekly sync" not in html
    html = client.get(LIST, {"quality__exact": "poor"}).content.decode()
    assert "Weekly sync" in html and "Elsewhere" in html and "Town hall" not in html
    response = client.get(LIST, {"user": "not-a-number"})
    assert response.status_code == 302 and "e=1" in response["Location"]


@pytest.mark.parametrize("params,expected", [
    ({}, ["Elsewhere", "Old one", "Town hall", "Weekly sync"]),
    ({"quality__exact": "poor"}, ["Elsewhere", "Weekly sync"]),
    ({"kind__exact": "webinar"}, ["Town hall"]),
    ("tenant_user", ["Weekly sync"]),
    ("tenant_group", ["Town hall"]),
    ({"end_time__gte": "2026-11-01 00:00:00+00:00", "end_time__lt": "2026-11-21 00:00:00+00:00"},
     ["Elsewhere", "Weekly sync"]),
    ({"q": "hall"}, ["Town hall"]),
])
def test_csv_is_exactly_what_the_filters_show(staff_client, world, params, expected):
    if params == "tenant_user":
        params = {"tenant__id__exact": world["acme"].pk, "user": world["ana"].pk}
    elif params == "tenant_group":
        params = {"tenant__id__exact": world["acme"].pk, "group": world["sales"].pk}
    client = staff_client("zoom_integration.view_zoommeeting")
    listed = client.get(LIST, params).context["cl"].queryset
    rows = read_csv(client.get(CSV, params))
    assert sorted(r["topic"] for r in rows) == sorted(m.topic for m in listed) == expected


def test_csv_row_content(staff_client, world):
    client = staff_client("zoom_integration.view_zoommeeting")
    rows = read_csv(client.get(CSV, {"q": "Weekly"}))
    assert rows == [{
        "tenant": world["acme"].slug, "kind": "meeting", "topic": "Weekly sync",
        "meeting_id": world["poor"].zoom_meeting_id, "uuid": world["poor"].uuid,
        "host_email": "", "start_time": T0.isoformat(),
        "end_time": (T0 + dt.timedelta(minutes=45)).isoformat(), "participants": "4",
        "sessions": "4",
        "poor_participants": "2", "classified_participants": "3",
        "poor_share_percent": "66.7", "worst_metric": "audio input jitter 80 ms > 30 ms",
        "quality": "poor", "fetch_status": "done"}]


def test_csv_neutralises_formulas(staff_client):
    MeetingFactory(topic="=HYPERLINK(\"http://evil\")")
    client = staff_client("zoom_integration.view_zoommeeting")
    assert read_csv(client.get(CSV))[0]["topic"].startswith("'=")


def test_csv_action_exports_selected(staff_client, world):
    client = staff_client("zoom_integration.view_zoommeeting")
    response = client.post(LIST, {"action": "export_csv",
                                  "_selected_action": [world["poor"].pk, world["old"].pk]})
    assert sorted(r["topic"] for r in read_csv(response)) == ["Old one", "Weekly sync"]


def test_qos_series_per_stream(world):
    p = world["poor"].participants.order_by("position").first()
    add_samples(p, minutes=3, latency=40.0, jitter=3.0, loss=0.5)
    series = meeting_qos_series(meeting=world["poor"])[p.person.pk]
    assert series.samples == 3
    assert set(series.series) == {"latency", "jitter", "loss"}
    assert set(series.series["latency"]) == {"audio_input", "audio_output", "video_input"}
    assert [v for _, v in series.series["latency"]["audio_input"]] == [40.0, 41.0, 42.0]
    assert set(series.series["loss"]) == {"audio_input", "video_input"}  # audio_output all None


def _person(pid: int, **streams: list[float | None]) -> PersonSeries:
    """Hand-made latency series of one person: stream -> one value per minute from T0."""
    return PersonSeries(person_id=pid, series={"latency": {
        stream: [(T0 + dt.timedelta(minutes=i, seconds=20), v) for i, v in enumerate(values)]
        for stream, values in streams.items()}})


def test_meeting_summary_is_median_and_worst_across_people():
    # Minute 0, each person at their worst stream: 100 (video, not audio's 40), 50, 300
    # -> median 100, worst 300 (the mean, 150, would be neither).
    # Minute 1: the second person has no number, so two people: median 20, worst 30.
    people = {
        1: _person(1, audio_input=[40.0, 20.0], video_input=[100.0, 30.0]),
        2: _person(2, audio_input=[50.0, None]),
        3: _person(3, audio_input=[300.0, 10.0], audio_output=[290.0, 5.0]),
    }
    summary = meeting_summary_series(people)
    minutes = [T0.replace(second=0, microsecond=0) + dt.timedelta(minutes=i) for i in (0, 1)]
    assert set(summary) == {"latency"}
    assert summary["latency"]["median"] == [(minutes[0], 100.0), (minutes[1], 20.0)]
    assert summary["latency"]["worst"] == [(minutes[0], 300.0), (minutes[1], 30.0)]
    assert meeting_summary_series({}) == {}


def test_meeting_page_shows_participants_and_charts(staff_client, world,
                                                    django_assert_max_num_queries):
    meeting = world["poor"]
    participants = list(meeting.participants.order_by("position"))
    add_samples(participants[0], minutes=5, jitter=80.0)
    add_samples(participants[1], minutes=5, video=False)
    client = staff_client("zoom_integration.view_zoommeeting")
    with django_assert_max_num_queries(12):
        response = client.get(f"{LIST}{meeting.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("Mac", "Wifi", "UDP", "Paris (FR)", "Frankfurt (DE)",
                 "audio input jitter 80 ms &gt; 30 ms", "2.10"):
        assert text in html
    assert html.count('class="participant"') == 4
    charts = {}
    for match in html.split('<svg xmlns="http://www.w3.org/2000/svg" class="qos-chart"')[1:]:
        svg = ET.fromstring(  # noqa: S314 - our own output
            '<svg xmlns="http://www.w3.org/2000/svg" class="qos-chart"'
            + match.split("</svg>")[0] + "</svg>")
        charts[svg.get("id")] = svg
    assert set(charts) >= {f"meeting-{meeting.pk}-latency", f"meeting-{meeting.pk}-jitter",
                           f"meeting-{meeting.pk}-loss",
                           f"participant-{participants[0].person.pk}-jitter"}
    jitter = charts[f"meeting-{meeting.pk}-jitter"]
    series = [g.get("data-name") for g in jitter.iter(f"{SVG}g") if g.get("class") == "series"]
    assert series == ["median across people", "worst person"]
    # Each person at their worst stream: 160 ms (video in, 2 × 80) and 4 ms (audio out, 3 + 1).
    desc = jitter.find(f"{SVG}desc").text
    assert "median across people: min 82, avg 82, max 82 ms" in desc
    assert "worst person: min 160, avg 160, max 160 ms" in desc
    assert "Classification uses each person's averages over the call" in html
    p2 = charts[f"participant-{participants[1].person.pk}-latency"]
    assert [g.get("data-name") for g in p2.iter(f"{SVG}g")
            if g.get("class") == "series"] == ["Audio in", "Audio out"]


def test_meeting_pages_need_the_view_permission(staff_client, world):
    client = staff_client("zoom_integration.view_tenanthealth")
    assert client.get(LIST).status_code == 403
    assert client.get(CSV).status_code == 403
    assert client.get(f"{LIST}{world['poor'].pk}/change/").status_code == 403


def test_meeting_admin_is_read_only(staff_client, world):
    client = staff_client("zoom_integration.view_zoommeeting")
    assert client.get(f"{LIST}add/").status_code == 403
    assert client.post(f"{LIST}{world['poor'].pk}/delete/").status_code == 403
    missing = client.get(f"{LIST}999999/change/")
    assert missing.status_code == 302  # the admin's "no such object" redirect


def test_staff_see_only_their_tenants_meetings(staff_client, world):
    client = staff_client("zoom_integration.view_zoommeeting", tenants=[world["other"]])
    html = client.get(LIST).content.decode()
    assert "Elsewhere" in html and "Weekly sync" not in html
    assert sorted(r["topic"] for r in read_csv(client.get(CSV))) == ["Elsewhere"]
    assert client.get(f"{LIST}{world['poor'].pk}/change/").status_code == 302  # not found
    # another tenant's users are not offered, even by id
    html = client.get(LIST, {"tenant__id__exact": world["acme"].pk,
                             "user": world["ana"].pk}).content.decode()
    assert "ana@acme.test" not in html


def test_meeting_page_lists_people_with_their_sessions(staff_client, world):
    meeting = MeetingFactory(tenant=world["acme"], topic="Rejoins", quality="poor")
    first = ParticipantFactory(meeting=meeting, user_name="Ana Ruiz", device="Mac",
                               person__quality="poor", person__sessions_count=2,
                               person__quality_reason="audio input jitter 41.5 ms > 30 ms")
    ParticipantFactory(meeting=meeting, person=first.person, user_name="Ana Ruiz",
                       device="iPhone", network_type="Cellular")
    admitted = ParticipantFactory(meeting=meeting, user_name="Bob Lee", person__quality="good")
    ParticipantFactory(meeting=meeting, person=admitted.person, user_name="Bob Lee",
                       status="in_waiting_room", in_waiting_room=True)
    ParticipantFactory(meeting=meeting, person=None, user_name="Walked Away",
                       status="in_waiting_room", in_waiting_room=True)
    add_samples(first, minutes=2, jitter=80.0)
    client = staff_client("zoom_integration.view_zoommeeting")
    html = client.get(f"{LIST}{meeting.pk}/change/").content.decode()
    assert html.count('class="participant"') == 2  # people, not the five rows
    assert html.count('class="session"') == 3 and html.count('class="session waiting-room"') == 2
    ana = html.split(f'id="participant-{first.person.position}"')[1].split("</tbody>")[0]
    assert "2 sessions" in ana and "Mac" in ana and "iPhone" in ana and "Cellular" in ana
    assert "audio input jitter 41.5 ms &gt; 30 ms" in ana
    bob = html.split(f'id="participant-{admitted.person.position}"')[1].split("</tbody>")[0]
    assert "Waiting room" in bob
    assert "Waiting room only (1, not counted)" in html and "Walked Away" in html
    assert "People / join sessions</th><td>2 / 3</td>" in html
    assert f'id="participant-{first.person.pk}-jitter"' in html
    row = meeting_quality_list().get(pk=meeting.pk)
    assert (row.q_participants, row.q_sessions, row.q_poor, row.q_classified) == (2, 3, 1, 2)
