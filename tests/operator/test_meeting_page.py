"""The meeting page of big meetings: bounded queries, poor people first over pages, each
person's own page, and the meeting-level series aggregated by PostgreSQL (the same numbers as
decoding every sample)."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import (
    T0,
    MeetingFactory,
    ParticipantFactory,
    TenantFactory,
    add_samples,
)
from zoom_integration.qos_store import qos_minute_spread, qos_samples_write
from zoom_integration.selectors.meetings import (
    CHART_METRICS,
    MAX_PARTICIPANT_CHARTS,
    PEOPLE_PER_PAGE,
    meeting_qos_series,
    meeting_summary,
    meeting_summary_series,
)

pytestmark = pytest.mark.django_db

LIST = "/admin/zoom_integration/zoommeeting/"
METRIC_KEYS = {metric: keys for metric, (_l, _u, keys) in CHART_METRICS.items()}


def _meeting(people: int, *, poor_at=(), tenant=None, minutes: int = 2):
    """A meeting of `people` people with samples; those at the positions in `poor_at` are
    poor, with a lower MOS the later they joined (so MOS order differs from join order)."""
    meeting = MeetingFactory(tenant=tenant or TenantFactory(), topic=f"{people} people",
                             quality="poor" if poor_at else "good")
    sessions = []
    for i in range(people):
        poor = i in poor_at
        session = ParticipantFactory(
            meeting=meeting, position=i, person__position=i, user_name=f"Person {i:03d}",
            person__quality="poor" if poor else "good", person__mos=(3.5 - i / 100) if poor
            else 4.3, person__quality_reason=f"audio input jitter {i} ms > 30 ms" if poor else "")
        sessions.append(session)
        add_samples(session, minutes=minutes, latency=40.0 + i, jitter=80.0 if poor else 3.0)
    return meeting, sessions


def _names(html: str) -> list[str]:
    return re.findall(r'<tr class="participant">\s*<td>\d+</td>\s*<td>(Person \d+)', html)


def _page_queries(client, meeting) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"{LIST}{meeting.pk}/change/")
    assert response.status_code == 200
    assert f'id="meeting-{meeting.pk}-latency"' in response.content.decode()
    return len(queries)


def test_the_page_s_queries_do_not_grow_with_the_meeting(staff_client):
    small, _ = _meeting(5, poor_at={1, 3})
    big, _ = _meeting(60, poor_at={1, 3, 20, 40, 59})
    client = staff_client("zoom_integration.view_zoommeeting")
    _page_queries(client, small)  # the first request of a session does some one-off work
    assert _page_queries(client, small) == _page_queries(client, big)
    html = client.get(f"{LIST}{big.pk}/change/").content.decode()
    assert html.count('class="participant"') == PEOPLE_PER_PAGE
    assert "People (60)" in html


def test_poor_people_come_first_lowest_mos_first_then_join_order(staff_client):
    poor_at = (7, 33, 52, 58)
    meeting, sessions = _meeting(PEOPLE_PER_PAGE + 10, poor_at=poor_at)
    client = staff_client("zoom_integration.view_zoommeeting")
    html = client.get(f"{LIST}{meeting.pk}/change/").content.decode()
    names = _names(html)
    # MOS falls with the position, so the last to join among the poor is the worst.
    worst_first = [f"Person {i:03d}" for i in sorted(poor_at, reverse=True)]
    assert names[:4] == worst_first
    rest = [f"Person {i:03d}" for i in range(PEOPLE_PER_PAGE + 10) if i not in poor_at]
    assert names[4:] == rest[:PEOPLE_PER_PAGE - 4]
    assert 'id="people-pages-top"' in html and '<a href="?page=2">2</a>' in html
    assert f"people 1–{PEOPLE_PER_PAGE} of {PEOPLE_PER_PAGE + 10}" in html
    # Every poor person of the page is charted inline, open.
    for i in poor_at:
        assert f'id="participant-{sessions[i].person_id}-jitter"' in html
        assert f'id="charts-participant-{i}" open' in html

    page2 = client.get(f"{LIST}{meeting.pk}/change/", {"page": 2}).content.decode()
    assert _names(page2) == rest[PEOPLE_PER_PAGE - 4:]
    assert 'aria-current="page">2<' in page2
    assert f"people {PEOPLE_PER_PAGE + 1}–{PEOPLE_PER_PAGE + 10} of" in page2
    # The meeting-level charts cover everyone, on every page.
    assert f'id="meeting-{meeting.pk}-latency"' in page2
    # A person's link keeps the page to come back to.
    assert f"?person={sessions[59].person_id}&amp;page=2" in page2
    # A page out of range shows the last one; a bad value the first.
    assert _names(client.get(f"{LIST}{meeting.pk}/change/", {"page": 99}).content.decode()) \
        == _names(page2)
    assert _names(client.get(f"{LIST}{meeting.pk}/change/", {"page": "x"}).content.decode()) \
        == names


def test_inline_charts_are_capped_and_everyone_s_are_on_their_page(staff_client):
    poor_at = set(range(MAX_PARTICIPANT_CHARTS + 3))
    meeting, sessions = _meeting(MAX_PARTICIPANT_CHARTS + 5, poor_at=poor_at)
    client = staff_client("zoom_integration.view_zoommeeting")
    html = client.get(f"{LIST}{meeting.pk}/change/").content.decode()
    assert html.count('class="op-participant-charts"') == MAX_PARTICIPANT_CHARTS
    assert f"first {MAX_PARTICIPANT_CHARTS} poor people of this page" in html
    # The worst (lowest MOS: the last poor to join) are the ones drawn.
    worst = sessions[max(poor_at)]
    assert f'id="participant-{worst.person_id}-latency"' in html
    not_drawn = sessions[0]  # poor, but the best MOS of the poor
    assert f'id="participant-{not_drawn.person_id}-latency"' not in html
    link = f"{LIST}{meeting.pk}/person/?person={not_drawn.person_id}"
    assert f'href="{link}"' in html
    person = client.get(link)
    assert person.status_code == 200
    body = person.content.decode()
    for metric in ("latency", "jitter", "loss"):
        assert f'id="participant-{not_drawn.person_id}-{metric}"' in body
    assert "Person 000" in body and "audio input jitter 0 ms &gt; 30 ms" in body
    assert "2 over 1 session" in body  # samples
    assert 'id="back-to-meeting"' in body and f'href="{LIST}{meeting.pk}/change/#participant-0"' \
        in body


def test_a_person_s_page_shows_sessions_and_stored_summaries(staff_client):
    meeting, sessions = _meeting(2, poor_at={1})
    person = sessions[1].person
    person.stream_summaries = {"audio_input": {"samples": 2, "latency_ms": {
        "min": 41.0, "avg": 41.5, "max": 42.0}, "jitter_ms": {"min": 80, "avg": 80, "max": 80}}}
    person.save()
    rejoin = ParticipantFactory(meeting=meeting, person=person, position=5, device="iPhone",
                                user_name="Person 001")
    client = staff_client("zoom_integration.view_zoommeeting")
    body = client.get(f"{LIST}{meeting.pk}/person/", {"person": person.pk}).content.decode()
    assert body.count('class="session"') == 2 and "iPhone" in body and "Mac" in body
    assert f'id="session-{rejoin.position}"' in body
    row = body.split('id="stream-summaries"')[1].split("</table>")[0]
    assert "Audio in" in row and "41 / 41.5 / 42" in row and "80 / 80 / 80" in row


def test_the_person_page_stays_inside_the_meeting_and_the_tenant(staff_client):
    acme, other = TenantFactory(name="Acme"), TenantFactory(name="Other")
    mine, my_sessions = _meeting(2, poor_at={0}, tenant=acme)
    theirs, their_sessions = _meeting(2, poor_at={0}, tenant=other)
    client = staff_client("zoom_integration.view_zoommeeting", tenants=[acme])
    url = f"{LIST}{mine.pk}/person/"
    assert client.get(url, {"person": my_sessions[0].person_id}).status_code == 200
    # Another meeting's person through this meeting's URL: not found.
    assert client.get(url, {"person": their_sessions[0].person_id}).status_code == 404
    assert client.get(url, {"person": "x"}).status_code == 404
    assert client.get(url).status_code == 404
    # The other tenant's meeting: the admin's "no such object" answer, nothing of it shown.
    response = client.get(f"{LIST}{theirs.pk}/person/",
                          {"person": their_sessions[0].person_id}, follow=True)
    assert "Person 000" not in response.content.decode()
    assert response.redirect_chain and response.redirect_chain[0][1] == 302
    assert client.post(url, {"person": my_sessions[0].person_id}).status_code == 405


def test_the_person_page_needs_the_view_permission(staff_client):
    meeting, sessions = _meeting(1, poor_at={0})
    client = staff_client("zoom_integration.view_tenanthealth")
    response = client.get(f"{LIST}{meeting.pk}/person/", {"person": sessions[0].person_id})
    assert response.status_code == 403


def _same_summary(sql, python):
    assert set(sql) == set(python)
    for metric in python:
        for line in ("median", "worst"):
            assert [t for t, _ in sql[metric][line]] == [t for t, _ in python[metric][line]]
            assert [v for _, v in sql[metric][line]] == pytest.approx(
                [v for _, v in python[metric][line]])


def test_the_aggregated_series_equal_the_decoded_ones():
    meeting = MeetingFactory()
    people = [ParticipantFactory(meeting=meeting) for _ in range(4)]
    add_samples(people[0], minutes=4, latency=40.0, jitter=3.0, loss=0.25)
    add_samples(people[1], minutes=3, latency=300.0, jitter=45.0, loss=12.5, video=False)
    add_samples(people[2], minutes=2, latency=41.0, jitter=2.0, loss=0.0)
    # A rejoin of person 0 sampled in the same minutes: the person's worst counts, once.
    rejoin = ParticipantFactory(meeting=meeting, person=people[0].person)
    add_samples(rejoin, minutes=2, latency=90.0, jitter=1.0, loss=3.0, video=False)
    # A waiting-room stint of no one who joined: its samples are left out.
    stint = ParticipantFactory(meeting=meeting, person=None, in_waiting_room=True)
    add_samples(stint, minutes=4, latency=5000.0)
    # Person 3 has minutes with no number at all for latency (a gap, not a zero).
    qos_samples_write(ended_at=meeting.end_time, rows=[
        (people[3].pk, meeting.pk, T0 + dt.timedelta(minutes=m, seconds=30),
         {"audio_input": {"jitter_ms": 7.0, "latency_ms": None}}, {}, {}, {})
        for m in range(1, 5)])
    spread = qos_minute_spread(meeting_id=meeting.pk, metrics=METRIC_KEYS)
    assert spread is not None  # the aggregated path, not the fallback
    python = meeting_summary_series(meeting_qos_series(meeting=meeting))
    sql = meeting_summary(meeting=meeting)
    _same_summary(sql, python)
    # Person 1's audio latency rises to 302 ms; the waiting-room stint's 5000 ms is left out.
    assert max(v for _, v in sql["latency"]["worst"]) == 302.0
    assert len(sql["jitter"]["median"]) == 4


def test_a_number_kept_in_extra_is_charted_through_the_decoded_rows():
    meeting = MeetingFactory()
    a, b = ParticipantFactory(meeting=meeting), ParticipantFactory(meeting=meeting)
    add_samples(a, minutes=2)
    # 40,000 ms does not fit its column: it is stored in `extra`, which SQL does not read.
    qos_samples_write(ended_at=meeting.end_time, rows=[
        (b.pk, meeting.pk, T0 + dt.timedelta(minutes=1),
         {"audio_input": {"latency_ms": 40000.0, "jitter_ms": 2.0}}, {}, {}, {})])
    assert qos_minute_spread(meeting_id=meeting.pk, metrics=METRIC_KEYS) is None
    summary = meeting_summary(meeting=meeting)
    assert max(v for _, v in summary["latency"]["worst"]) == 40000.0
    _same_summary(summary, meeting_summary_series(meeting_qos_series(meeting=meeting)))


def test_a_meeting_without_samples_has_no_series():
    meeting = MeetingFactory()
    ParticipantFactory(meeting=meeting)
    assert qos_minute_spread(meeting_id=meeting.pk, metrics=METRIC_KEYS) is None
    assert meeting_summary(meeting=meeting) == {}
