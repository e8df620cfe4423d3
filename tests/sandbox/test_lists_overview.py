"""Meeting and webinar lists (for catching missed meetings), the account overview endpoints,
ending a meeting without its event, and the call counts per endpoint."""

import time

import requests

DAY = 86400


def day(offset=0):
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() + offset * DAY))


def test_a_meeting_ended_without_its_event_is_in_the_list(api, connected):
    sandbox, _app, _token = connected
    answer = requests.post(f"{sandbox.base_url}/_sandbox/meetings/end",
                           json={"participants": 4, "send_event": False}, timeout=5).json()
    assert answer["deliveries"] == [] and answer["event"] is None
    assert sandbox.deliveries("meeting.ended") == []
    listed = api("/metrics/meetings", params={"type": "past", "from": day(), "to": day(),
                                              "page_size": 300}).json()
    rows = {row["uuid"]: row for row in listed["meetings"]}
    row = rows[answer["uuid"]]
    assert {"uuid", "id", "topic", "host", "email", "start_time", "end_time", "duration",
            "participants", "has_pstn", "has_video", "has_screen_share",
            "has_recording"} <= set(row)
    assert row["participants"] == 4
    for label in ("audio_quality", "video_quality", "screen_share_quality"):
        assert row[label] in ("good", "fair", "poor", "bad")


def test_list_window_paging_and_limits(api, connected):
    sandbox, _app, _token = connected
    for _ in range(5):
        sandbox.end_meeting(participants=2)
    params = {"type": "past", "from": day(-30), "to": day()}
    seen, token, pages = [], "", 0
    while True:
        page = api("/metrics/meetings", params={**params, "page_size": 4,
                                                **({"next_page_token": token} if token else {})})
        body = page.json()
        assert body["page_size"] == 4 and body["from"] == params["from"]
        seen += [m["uuid"] for m in body["meetings"]]
        pages += 1
        token = body["next_page_token"]
        if not token:
            break
    assert pages > 1 and len(seen) == len(set(seen)) == body["total_records"]
    # page_size is capped at 300.
    assert api("/metrics/meetings", params={**params, "page_size": 1000}).json()[
        "page_size"] == 300
    # More than one month apart: Zoom's 400 with code 300.
    wide = api("/metrics/meetings", params={"type": "past", "from": day(-40), "to": day()})
    assert wide.status_code == 400 and wide.json()["code"] == 300
    bad = api("/metrics/webinars", params={"type": "past", "from": "2026-13-01", "to": day()})
    assert bad.status_code == 400
    by_end = api("/metrics/meetings", params={**params, "query_date_type": "end_time"})
    assert by_end.json()["total_records"] == body["total_records"]
    assert api("/metrics/meetings", params={**params, "query_date_type": "x"}).status_code == 400


def test_overview_endpoints(api, connected):
    sandbox, _app, _token = connected
    for _ in range(3):
        sandbox.end_meeting(participants=3)
    window = {"from": day(-7), "to": day()}
    quality = api("/metrics/quality", params=window).json()
    assert set(quality) == {"from", "to", "quality"}
    assert set(quality["quality"]) == {"audio", "video", "screen_share"}
    listed = api("/metrics/meetings", params={**window, "type": "past",
                                              "page_size": 300}).json()["meetings"]
    audio = quality["quality"]["audio"]
    assert set(audio) == {"good", "fair", "poor", "bad"}
    assert sum(audio.values()) == len(listed)  # one label per meeting
    people = api("/metrics/quality", params={**window, "type": "participants"}).json()
    assert sum(people["quality"]["audio"].values()) > sum(audio.values())

    versions = api("/metrics/client_versions").json()["client_versions"]
    assert versions and all(set(v) == {"client_version", "total_count"} for v in versions)

    first = api("/metrics/zoomrooms", params={"page_size": 5}).json()
    assert first["total_records"] == 8 and len(first["zoom_rooms"]) == 5
    rest = api("/metrics/zoomrooms", params={"page_size": 5,
                                             "next_page_token": first["next_page_token"]}).json()
    rooms = first["zoom_rooms"] + rest["zoom_rooms"]
    assert len({r["id"] for r in rooms}) == 8 and rest["next_page_token"] == ""
    for room in rooms:
        assert room["status"] in ("Available", "InMeeting", "Offline", "UnderConstruction")
        assert room["health"] in ("normal", "warning", "critical")
        assert isinstance(room["issues"], list)
    with_issues = [r for r in rooms if r["issues"]]
    assert with_issues

    top_rooms = api("/metrics/issues/zoomrooms", params=window).json()
    assert {r["id"] for r in top_rooms["zoom_rooms"]} == {r["id"] for r in with_issues}
    assert set(top_rooms["zoom_rooms"][0]) == {"id", "room_name", "issues_count"}
    top_issues = api("/metrics/zoomrooms/issues", params=window).json()
    assert top_issues["issues"] and set(top_issues["issues"][0]) == {"issue_name",
                                                                      "zoom_rooms_count"}
    assert sum(i["zoom_rooms_count"] for i in top_issues["issues"]) == sum(
        r["issues_count"] for r in top_rooms["zoom_rooms"])
    assert api("/metrics/zoomrooms/issues").status_code == 400  # from/to required


def test_overview_without_the_dashboard_answers_code_200(api, connected):
    sandbox, app, _token = connected
    sandbox.set_account(app["account_id"], plan="pro")
    window = {"from": day(), "to": day()}
    for path, params in (("/metrics/quality", window), ("/metrics/client_versions", {}),
                         ("/metrics/zoomrooms", {}), ("/metrics/issues/zoomrooms", window),
                         ("/metrics/zoomrooms/issues", window),
                         ("/metrics/meetings", {**window, "type": "past"})):
        answer = api(path, params=params)
        assert answer.status_code == 400 and answer.json()["code"] == 200, path


def test_zoom_rooms_count_is_settable(api, connected):
    sandbox, app, _token = connected
    requests.post(f"{sandbox.base_url}/_sandbox/accounts/{app['account_id']}",
                  json={"zoom_rooms": 0}, timeout=5).raise_for_status()
    assert api("/metrics/zoomrooms").json()["zoom_rooms"] == []


def test_calls_are_counted_per_endpoint_category_and_meeting(api, connected):
    sandbox, _app, _token = connected
    sandbox.reset()
    uuid = sandbox.end_meeting(participants=25)["uuid"]
    ident = requests.utils.quote(requests.utils.quote(uuid, safe=""), safe="")
    api(f"/metrics/meetings/{ident}", params={"type": "past"})
    token = ""
    while True:
        page = api(f"/metrics/meetings/{ident}/participants/qos",
                   params={"type": "past", "page_size": 10,
                           **({"next_page_token": token} if token else {})}).json()
        token = page["next_page_token"]
        if not token:
            break
    api("/users")
    stats = requests.get(f"{sandbox.base_url}/_sandbox/stats", timeout=5).json()
    assert stats["endpoints"] == {"GET /metrics/meetings/{id}": 1,
                                  "GET /metrics/meetings/{id}/participants/qos": 3,
                                  "GET /users": 1}
    assert stats["categories"] == {"Heavy": 4, "Medium": 1}
    assert stats["meetings"] == {uuid: 4}
    requests.post(f"{sandbox.base_url}/_sandbox/reset", timeout=5)
    assert requests.get(f"{sandbox.base_url}/_sandbox/stats", timeout=5).json()[
        "endpoints"] == {}


def test_panel_ends_a_meeting_without_the_event(zoom_sandbox):
    page = requests.get(zoom_sandbox.base_url + "/", headers={"Accept": "text/html"},
                        timeout=5).text
    assert "End a meeting without sending the event" in page
    assert "granular scopes" in page
    answer = requests.post(zoom_sandbox.base_url + "/panel/silent_meeting",
                           data={"client_id": zoom_sandbox.app["client_id"]}, timeout=5,
                           allow_redirects=False)
    assert answer.status_code == 303
    assert "WITHOUT%20sending%20meeting.ended" in answer.headers["Location"]
    assert zoom_sandbox.deliveries() == []
    summary = zoom_sandbox.sandbox.account_summary(
        zoom_sandbox.sandbox.world.account(zoom_sandbox.app["account_id"]))
    assert summary["meetings"][-1]["participants"] == 6
