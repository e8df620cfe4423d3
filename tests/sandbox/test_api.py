"""REST /v2: users, groups, dashboard; paging, type default, double encoding, delay
(docs/zoom.md, "Users and groups APIs" and "Dashboard APIs")."""

import re
import time
from urllib.parse import quote

import requests

from zoom_integration.sandbox.testing import running_sandbox


def token_for(sandbox, app):
    code = sandbox.authorization_code(app["client_id"])
    return requests.post(sandbox.base_url + "/oauth/token",
                         auth=(app["client_id"], app["client_secret"]),
                         data={"grant_type": "authorization_code", "code": code,
                               "redirect_uri": app["redirect_uris"][0]},
                         timeout=5).json()["access_token"]


def test_users_me_has_account_id(connected, api):
    _sandbox, app, _token = connected
    me = api("/users/me").json()
    assert me["account_id"] == app["account_id"]
    assert me["role_name"] == "Owner" and me["status"] == "active"


def test_users_paging_default_cap_and_full_walk(api):
    first = api("/users").json()
    assert first["page_size"] == 30 and len(first["users"]) == 30
    capped = api("/users", params={"page_size": 1000}).json()
    assert capped["page_size"] == 300  # clamped to the cap, and said so
    seen, token = [], ""
    while True:
        page = api("/users", params={"page_size": 7, "next_page_token": token}).json()
        seen += [u["id"] for u in page["users"]]
        token = page["next_page_token"]
        if not token:
            break
    assert len(seen) == len(set(seen)) == first["total_records"]
    assert all(u["status"] == "active" for u in first["users"])


def test_status_filter_covers_every_user(api, connected):
    sandbox, _app, _token = connected
    totals = {s: api("/users", params={"status": s, "page_size": 300}).json()
              for s in ("active", "inactive", "pending")}
    assert sum(t["total_records"] for t in totals.values()) == 60
    assert {u["status"] for u in totals["pending"]["users"]} == {"pending"}
    assert api("/users", params={"status": "gone"}).json()["code"] == 300


def test_next_page_token_expires_after_15_minutes(api, connected):
    sandbox, _app, _token = connected
    token = api("/users", params={"page_size": 5}).json()["next_page_token"]
    sandbox.advance_clock(14 * 60)
    assert api("/users", params={"page_size": 5, "next_page_token": token}).status_code == 200
    sandbox.advance_clock(2 * 60)
    expired = api("/users", params={"page_size": 5, "next_page_token": token})
    assert expired.status_code == 400 and expired.json()["code"] == 300


def test_get_user_by_id_and_unknown(api):
    some = api("/users").json()["users"][3]
    assert api(f"/users/{some['id']}").json()["email"] == some["email"]
    missing = api("/users/zzzzzzzzzzzzzz")
    assert missing.status_code == 404 and missing.json()["code"] == 1001


def test_groups_and_members(api):
    groups = api("/groups").json()
    assert groups["total_records"] == 4
    group = groups["groups"][1]
    members = api(f"/groups/{group['id']}/members", params={"page_size": 300}).json()
    assert members["total_records"] == group["total_members"] == len(members["members"])
    for member in members["members"][:3]:
        assert group["id"] in api(f"/users/{member['id']}").json()["group_ids"]
    assert api("/groups/nope/members").json()["code"] == 4130


def test_large_world_is_lazy():
    started = time.monotonic()
    with running_sandbox(users=100_000) as sandbox:
        api_token = token_for(sandbox, sandbox.app)
        headers = {"Authorization": f"Bearer {api_token}"}
        page = requests.get(sandbox.api_base_url + "/users", headers=headers,
                            params={"page_size": 300}, timeout=10).json()
        assert page["total_records"] > 90_000 and len(page["users"]) == 300
        meeting = sandbox.end_meeting(participants=1000, minutes=60)
        qos = requests.get(
            f"{sandbox.api_base_url}/metrics/meetings/{quote(quote(meeting['uuid'], safe=''))}"
            "/participants/qos", headers=headers, params={"type": "past", "page_size": 10},
            timeout=10).json()
        assert qos["total_records"] == 1000 and len(qos["participants"]) == 10
    assert time.monotonic() - started < 3


def double(uuid):
    return quote(quote(uuid, safe=""), safe="")


def test_type_defaults_to_live(api, connected):
    sandbox, _app, _token = connected
    meeting = sandbox.end_meeting(participants=4, uuid="plainUUIDabc+def==")
    base = f"/metrics/meetings/{double(meeting['uuid'])}"
    live = api(base)
    assert live.status_code == 404 and live.json()["code"] == 3001
    assert api(base + "/participants").json()["total_records"] == 0
    past = api(base, params={"type": "past"}).json()
    assert past["uuid"] == meeting["uuid"] and past["participants"] == 4
    assert api(base + "/participants", params={"type": "past"}).json()["total_records"] == 4


def test_double_encoding_rule(api, connected):
    sandbox, _app, _token = connected
    slashed = sandbox.end_meeting(uuid="/ab+cd//ef==")["uuid"]
    normal = sandbox.end_meeting(uuid="qW3+kL0/Zx9==")["uuid"]
    past = {"type": "past"}
    once = api(f"/metrics/meetings/{quote(slashed, safe='')}", params=past)
    assert once.status_code == 404 and once.json()["code"] == 3001
    assert api(f"/metrics/meetings/{double(slashed)}", params=past).status_code == 200
    # A single "/" inside the UUID is fine encoded once, and double encoding always works.
    assert api(f"/metrics/meetings/{quote(normal, safe='')}", params=past).status_code == 200
    assert api(f"/metrics/meetings/{double(normal)}", params=past).status_code == 200
    # The seeded world has such UUIDs too.
    seeded = [m["uuid"] for m in sandbox.sandbox.account_summary(
        sandbox.sandbox.world.first_account())["meetings"]]
    assert any(u.startswith("/") for u in seeded) and any("//" in u for u in seeded)


def test_data_appears_after_the_delay(api, connected):
    sandbox, _app, _token = connected
    sandbox.configure(data_delay=120)
    meeting = sandbox.end_meeting(participants=3)
    url = f"/metrics/meetings/{double(meeting['uuid'])}/participants"
    early = api(url, params={"type": "past"})
    assert early.status_code == 404 and early.json()["code"] == 3001
    sandbox.advance_clock(121)
    assert api(url, params={"type": "past"}).json()["total_records"] == 3


def test_dashboard_is_gated_by_plan(api, connected):
    sandbox, app, _token = connected
    sandbox.set_account(app["account_id"], dashboard=False)
    gated = api("/metrics/meetings", params={"type": "past", "from": "2026-01-01",
                                             "to": "2026-01-02"})
    assert gated.json()["code"] == 200
    assert "Dashboard" in gated.json()["message"]


def test_qos_paging_and_shapes(api, connected):
    sandbox, _app, _token = connected
    meeting = sandbox.end_meeting(participants=25, minutes=10)
    base = f"/metrics/meetings/{double(meeting['uuid'])}/participants"
    default = api(base + "/qos", params={"type": "past"}).json()
    assert default["page_size"] == 1 and len(default["participants"]) == 1
    capped = api(base + "/qos", params={"type": "past", "page_size": 50}).json()
    assert capped["page_size"] == 10 and len(capped["participants"]) == 10
    samples = [s for p in capped["participants"] for s in p["user_qos"]]
    assert samples and all(len(p["user_qos"]) <= 10 for p in capped["participants"])
    latencies = [s["audio_input"]["latency"] for s in samples if s["audio_input"]]
    assert all(re.fullmatch(r"\d+ ms|-", v) for v in latencies)
    video = [s["video_input"] for s in samples if s["video_input"]]
    assert all(re.fullmatch(r"\d+\*\d+|-", v["resolution"]) for v in video)
    people = api(base, params={"type": "past", "page_size": 300}).json()["participants"]
    guests = [p for p in people if p["id"] == ""]
    assert guests and all(p["participant_user_id"] == "" for p in guests)
    assert people[0]["id"] and people[0]["role"] == "host"


def test_metrics_list_with_from_to(api, connected):
    sandbox, _app, _token = connected
    sandbox.end_webinar(participants=30)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    params = {"from": today, "to": today}
    assert api("/metrics/webinars", params=params).json()["total_records"] == 0  # live
    listed = api("/metrics/webinars", params={**params, "type": "past"}).json()
    assert listed["total_records"] >= 1 and "audio_quality" in listed["webinars"][0]
    bad = api("/metrics/meetings", params={"type": "past", "from": "2020-01-01",
                                           "to": "2020-01-02"})
    assert bad.status_code == 400 and bad.json()["code"] == 300


def test_world_is_deterministic():
    with running_sandbox(seed=3) as one, running_sandbox(seed=3) as two:
        world_one, world_two = one.sandbox.world, two.sandbox.world
        account_one, account_two = world_one.first_account(), world_two.first_account()
        assert world_one.user(account_one, 42) == world_two.user(account_two, 42)
        meeting = next(iter(account_one.meetings.values()))
        assert (world_one.qos_participant(account_one, meeting, 1)
                == world_two.qos_participant(account_two,
                                             account_two.meetings[meeting.uuid], 1))
