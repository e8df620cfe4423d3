"""Participants are join sessions: rejoins, waiting room, guests, registrants, SDK joins and room
systems whose QoS sits only in the Cloud Room Connector blocks."""

from collections import defaultdict

import requests


def encoded(uuid):
    return requests.utils.quote(requests.utils.quote(uuid, safe=""), safe="")


def all_pages(api, path, params, key="participants"):
    rows, token = [], ""
    while True:
        page = api(path, params={**params, **({"next_page_token": token} if token else {})})
        assert page.status_code == 200, page.text
        body = page.json()
        rows += body[key]
        token = body["next_page_token"]
        if not token:
            return rows


def ended(sandbox, participants=20, minutes=30, kind="meeting"):
    result = sandbox.sandbox.end_meeting(kind=kind, participants=participants, minutes=minutes)
    return f"/metrics/{kind}s/{encoded(result['uuid'])}"


def test_sessions_of_one_meeting(api, connected):
    sandbox, _app, _token = connected
    path = ended(sandbox)
    rows = all_pages(api, path + "/participants",
                     {"type": "past", "include_fields": "registrant_id", "page_size": 7})
    assert len(rows) == 20
    # Every session has its own user_id and participant_uuid.
    assert len({r["user_id"] for r in rows}) == 20
    assert len({r["participant_uuid"] for r in rows}) == 20
    # Signed-in users: id equals participant_user_id.
    signed_in = [r for r in rows if r["participant_user_id"]]
    assert signed_in and all(r["id"] == r["participant_user_id"] for r in signed_in)
    # Guests: both blank; some with every identifier blank.
    guests = [r for r in rows if not r["participant_user_id"]]
    assert all(r["id"] == "" for r in guests)
    assert any(not (r["registrant_id"] or r["customer_key"] or r["email"]) for r in guests)
    # Rejoins: a registrant and a signed-in user each appear twice, in sessions that do not
    # overlap.
    by_person = defaultdict(list)
    for r in rows:
        key = r["participant_user_id"] or r["registrant_id"]
        if key:
            by_person[key].append(r)
    rejoined = {k: v for k, v in by_person.items() if len(v) > 1}
    assert any(v[0]["registrant_id"] for v in rejoined.values())
    assert any(v[0]["participant_user_id"] for v in rejoined.values())
    for sessions in rejoined.values():
        in_meeting = sorted((s for s in sessions if s["status"] == "in_meeting"),
                            key=lambda s: s["join_time"])
        for before, after in zip(in_meeting, in_meeting[1:], strict=False):
            assert before["leave_time"] <= after["join_time"]
    # Waiting room: a row of its own, then the same person in the meeting.
    waiting = [r for r in rows if r["status"] == "in_waiting_room"]
    assert waiting
    for row in waiting:
        same = by_person[row["participant_user_id"]]
        assert any(s["status"] == "in_meeting" and s["join_time"] >= row["leave_time"]
                   for s in same)
    # SDK joins carry a customer_key.
    assert any(r["customer_key"] for r in guests)


def test_registrant_id_only_when_asked_for(api, connected):
    sandbox, _app, _token = connected
    path = ended(sandbox, kind="webinar") + "/participants"
    plain = api(path, params={"type": "past", "page_size": 30}).json()["participants"]
    assert all("registrant_id" not in r for r in plain)
    asked = api(path, params={"type": "past", "page_size": 30,
                              "include_fields": "registrant_id"}).json()["participants"]
    assert any(r["registrant_id"] for r in asked)


def test_qos_entries_and_room_systems(api, connected):
    sandbox, _app, _token = connected
    path = ended(sandbox)
    sessions = all_pages(api, path + "/participants", {"type": "past", "page_size": 30})
    qos = all_pages(api, path + "/participants/qos", {"type": "past", "page_size": 10})
    assert [q["user_id"] for q in qos] == [s["user_id"] for s in sessions]
    for entry, session in zip(qos, sessions, strict=True):
        # Linked to its session by user_id, to a directory user by id; nothing else.
        assert "participant_user_id" not in entry and "email" not in entry
        assert entry["id"] == session["id"]
        if session["status"] == "in_waiting_room":
            assert entry["user_qos"] == []
    rooms = [q for q, s in zip(qos, sessions, strict=True) if s["device"] == "H.323/SIP"]
    assert len(rooms) == 2
    for room in rooms:
        for sample in room["user_qos"]:
            assert sample["audio_input"] == {} and sample["video_output"] == {}
            latency = sample["audio_device_from_crc"]["latency"]
            assert latency.endswith("ms") or latency == "-"  # "-": no measurement
            assert "video_device_to_crc" in sample
    # Row 5 is a poor room call: its CRC latency is far above a good one's.
    latencies = [int(s["audio_device_from_crc"]["latency"].split()[0])
                 for s in rooms[0]["user_qos"] if s["audio_device_from_crc"]["latency"] != "-"]
    assert latencies and min(latencies) >= 150
    # Some samples carry *_rwg blocks and fields the reference does not list.
    rwg = [s for q in qos for s in q["user_qos"] if "audio_device_from_rwg" in s]
    assert rwg and all(s["video_connection_type"] == "UDP" for s in rwg)
