"""User and group events with Zoom's shapes, retries that keep their timestamp, aged deliveries."""

import json
import time

import requests

from tests.sandbox.conftest import api_for, token_for
from zoom_sandbox.testing import running_sandbox, webhook_receiver
from zoom_sandbox.webhooks import signature

USER_OBJECT = {"id", "first_name", "last_name", "email", "type"}


def control(zoom, method, path, body=None):
    answer = requests.request(method, f"{zoom.base_url}/_sandbox/{path}", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def received(receiver):
    return [json.loads(r["body"]) for r in receiver.requests]


def test_user_status_events_and_the_directory(zoom_sandbox):
    with webhook_receiver() as receiver:
        zoom = zoom_sandbox
        app = zoom.register_app(redirect_uri="http://localhost/cb", event_url=receiver.url)
        api = api_for(zoom, token_for(zoom, app))
        user = api("/users").json()["users"][3]
        control(zoom, "POST", f"users/{user['id']}/deactivate")
        assert api(f"/users/{user['id']}").json()["status"] == "inactive"
        control(zoom, "POST", f"users/{user['id']}/activate")
        assert api(f"/users/{user['id']}").json()["status"] == "active"
        control(zoom, "POST", f"users/{user['id']}/disassociate")
        assert api(f"/users/{user['id']}").json()["code"] == 1001  # gone from the account
        assert zoom.wait_deliveries()
    events = received(receiver)
    assert sorted(e["event"] for e in events) == ["user.activated", "user.deactivated",
                                                  "user.disassociated"]
    for event in events:
        payload = event["payload"]
        assert set(payload) == {"account_id", "operator", "operator_id", "object"}
        assert set(payload["object"]) == USER_OBJECT
        assert payload["object"]["id"] == user["id"]
        assert isinstance(event["event_ts"], int)
    bad = requests.post(f"{zoom.base_url}/_sandbox/users/{user['id']}/promote", timeout=5)
    assert bad.status_code == 404


def test_group_events_and_the_groups_api(zoom_sandbox):
    with webhook_receiver() as receiver:
        zoom = zoom_sandbox
        app = zoom.register_app(redirect_uri="http://localhost/cb", event_url=receiver.url)
        api = api_for(zoom, token_for(zoom, app))
        users = api("/users").json()["users"][:3]
        created = control(zoom, "POST", "groups", {"name": "Night shift",
                                                   "client_id": app["client_id"]})
        group_id = created["group"]["id"]
        control(zoom, "PATCH", f"groups/{group_id}", {"name": "Late shift"})
        control(zoom, "POST", f"groups/{group_id}/members",
                {"user_ids": [u["id"] for u in users]})
        control(zoom, "DELETE", f"groups/{group_id}/members/{users[0]['id']}")
        groups = {g["id"]: g for g in api("/groups").json()["groups"]}
        assert groups[group_id]["name"] == "Late shift"
        assert groups[group_id]["total_members"] == 2
        members = api(f"/groups/{group_id}/members").json()["members"]
        assert [m["id"] for m in members] == [u["id"] for u in users[1:]]
        assert group_id in api(f"/users/{users[1]['id']}").json()["group_ids"]
        assert group_id not in api(f"/users/{users[0]['id']}").json()["group_ids"]
        control(zoom, "DELETE", f"groups/{group_id}")
        assert group_id not in {g["id"] for g in api("/groups").json()["groups"]}
        assert api(f"/groups/{group_id}/members").json()["code"] == 4130
        assert zoom.wait_deliveries()
    # Each delivery runs in its own thread, so arrival order is not guaranteed.
    by_name = {e["event"]: e for e in received(receiver)}
    order = ["group.created", "group.updated", "group.member_added", "group.member_deleted",
             "group.deleted"]
    assert sorted(by_name) == sorted(order)
    events = [by_name[name] for name in order]
    for event in events:
        payload = event["payload"]
        assert {"account_id", "operator", "operator_id", "object"} <= set(payload)
        assert isinstance(payload["time_stamp"], int)
        assert payload["object"]["id"] == group_id
    assert events[0]["payload"]["object"] == {"id": group_id, "name": "Night shift"}
    assert events[2]["payload"]["object"]["members"] == [
        {"id": u["id"], "email": u["email"]} for u in users]
    assert events[3]["payload"]["object"]["members"] == [
        {"id": users[0]["id"], "email": users[0]["email"]}]
    assert events[4]["payload"]["object"]["name"] == "Late shift"


def test_send_sample_of_every_new_event():
    with webhook_receiver() as receiver, running_sandbox() as zoom:
        app = zoom.register_app(redirect_uri="http://localhost/cb", event_url=receiver.url)
        zoom.sandbox.sync_delivery = True
        for name in ("user.activated", "user.deactivated", "user.disassociated",
                     "group.created", "group.updated", "group.deleted",
                     "group.member_added", "group.member_deleted"):
            event = zoom.sandbox.sample_event(name, client_id=app["client_id"])
            assert event["event"] == name and event["payload"]["object"]["id"]


def test_retries_keep_the_original_timestamp_when_asked():
    with webhook_receiver(statuses=[500, 500, 200], secret_token="") as receiver, \
            running_sandbox(retry_factor=0.004, retry_timestamp="original") as zoom:
        app = zoom.register_app(redirect_uri="http://localhost/cb", event_url=receiver.url)
        zoom.end_meeting(client_id=app["client_id"])
        assert zoom.wait_deliveries(15)
    stamps = [r["headers"]["x-zm-request-timestamp"] for r in receiver.requests]
    assert len(stamps) == 3 and len(set(stamps)) == 1
    # Every attempt is signed over that same timestamp, so the signatures are equal too.
    for request in receiver.requests:
        assert request["headers"]["x-zm-signature"] == signature(
            app["secret_token"], stamps[0], request["body"])
    assert len({r["headers"]["x-zm-signature"] for r in receiver.requests}) == 1


def test_retries_are_signed_afresh_by_default():
    with webhook_receiver(statuses=[500, 200]) as receiver, \
            running_sandbox(retry_factor=0.004) as zoom:
        app = zoom.register_app(redirect_uri="http://localhost/cb", event_url=receiver.url)
        zoom.configure(retry_factor=1.0 / 250)  # the first retry 1.2 s later
        zoom.end_meeting(client_id=app["client_id"])
        assert zoom.wait_deliveries(15)
        log = zoom.deliveries("meeting.ended")[0]
    assert zoom.sandbox.config.retry_timestamp == "fresh"
    stamps = [int(r["headers"]["x-zm-request-timestamp"]) for r in receiver.requests]
    assert stamps[1] > stamps[0]
    assert [a["timestamp"] for a in log["attempts"]] == [str(s) for s in stamps]


def test_retry_timestamp_is_settable_and_checked(zoom_sandbox):
    assert control(zoom_sandbox, "POST", "config",
                   {"retry_timestamp": "original"})["retry_timestamp"] == "original"
    bad = requests.post(f"{zoom_sandbox.base_url}/_sandbox/config",
                        json={"retry_timestamp": "sometimes"}, timeout=5)
    assert bad.status_code == 400


def test_a_delivery_signed_thirty_minutes_ago():
    with webhook_receiver() as receiver, running_sandbox() as zoom:
        app = zoom.register_app(redirect_uri="http://localhost/cb", event_url=receiver.url)
        before = int(time.time())
        sent = control(zoom, "POST", "events", {
            "event": "user.updated", "client_id": app["client_id"], "age_seconds": 1800,
            "object": {"id": "u1", "dept": "Sales"}})
        assert zoom.wait_deliveries()
        negative = requests.post(f"{zoom.base_url}/_sandbox/events", timeout=5,
                                 json={"event": "user.updated", "age_seconds": -5})
        assert negative.status_code == 400
    request = receiver.requests[0]
    stamp = int(request["headers"]["x-zm-request-timestamp"])
    assert before - 1800 - 2 <= stamp <= int(time.time()) - 1800
    assert stamp == sent["timestamp"]
    assert request["headers"]["x-zm-signature"] == signature(app["secret_token"], str(stamp),
                                                             request["body"])
    assert json.loads(request["body"])["event_ts"] == stamp * 1000
