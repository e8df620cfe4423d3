"""Webhook deliveries: bytes, signature, headers, retries, URL validation, envelopes
(docs/zoom.md, "Webhooks")."""

import hashlib
import hmac
import json

from zoom_integration.sandbox.testing import running_sandbox, webhook_receiver
from zoom_integration.sandbox.webhooks import body_bytes, signature

SECRET = "s3cr3t-T0ken"


def test_signature_matches_an_independent_vector():
    # Computed here from Zoom's definition (docs/zoom.md, "Signature verification"), not with
    # the sandbox's helper.
    body = '{"event":"meeting.ended","payload":{"object":{"topic":"Réunion"}}}'.encode()
    expected = hmac.new(b"abc123", b"v0:1688752773:" + body, hashlib.sha256).hexdigest()
    assert signature("abc123", "1688752773", body) == "v0=" + expected
    assert expected == hmac.new(b"abc123", ("v0:1688752773:" + body.decode()).encode(),
                                hashlib.sha256).hexdigest()


def test_body_is_compact_and_keeps_non_ascii():
    assert body_bytes({"a": 1, "t": "Zoë"}) == '{"a":1,"t":"Zoë"}'.encode()


def test_meeting_ended_delivery_is_signed_like_zoom():
    with webhook_receiver() as receiver, running_sandbox(apps=[{
            "secret_token": SECRET, "event_url": receiver.url, "verification_token": "vt",
            "redirect_uri": "https://x.example/cb"}]) as sandbox:
        sent = sandbox.end_meeting(participants=3, topic="Réunion d'équipe")
        assert sandbox.wait_deliveries(5)
        request = receiver.requests[0]
        headers, body = request["headers"], request["body"]
        assert body == json.dumps(sent["event"], separators=(",", ":"),
                                  ensure_ascii=False).encode()
        assert "Réunion".encode() in body
        ts = headers["x-zm-request-timestamp"]
        assert ts.isdigit() and len(ts) == 10  # seconds
        mac = hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256)
        assert headers["x-zm-signature"] == "v0=" + mac.hexdigest()
        assert headers["user-agent"] == "Zoom Marketplace/1.0a"
        assert headers["clientid"] == sandbox.app["client_id"]
        assert headers["authorization"] == "vt"
        assert headers["x-zm-trackingid"]
        event = json.loads(body)
        assert event["event"] == "meeting.ended" and isinstance(event["event_ts"], int)
        obj = event["payload"]["object"]
        assert event["payload"]["account_id"] == sandbox.app["account_id"]
        assert obj["uuid"] == sent["uuid"] and isinstance(obj["id"], str)
        delivery = sandbox.deliveries("meeting.ended")[0]
        assert delivery["state"] == "delivered" and delivery["attempts"][0]["status"] == 200


def test_no_authorization_header_without_verification_token():
    with webhook_receiver() as receiver, running_sandbox(apps=[{
            "secret_token": SECRET, "event_url": receiver.url}]) as sandbox:
        sandbox.end_webinar()
        assert sandbox.wait_deliveries(5)
        assert "authorization" not in receiver.requests[0]["headers"]
        assert json.loads(receiver.requests[0]["body"])["event"] == "webinar.ended"


def test_retries_follow_the_schedule_until_200_or_204():
    with webhook_receiver(statuses=[500, 202, 204]) as receiver, running_sandbox(
            retry_factor=0.001, apps=[{"secret_token": SECRET, "event_url": receiver.url}]
    ) as sandbox:
        sandbox.create_user(first_name="Ana")
        assert sandbox.wait_deliveries(5)
        times = [r["at"] for r in receiver.requests]
        assert len(times) == 3  # only 200 and 204 count for Zoom, 202 does not
        assert 0.25 < times[1] - times[0] < 1.0  # 5 minutes * 0.001
        assert 1.1 < times[2] - times[1] < 2.5  # 20 minutes * 0.001
        delivery = sandbox.deliveries("user.created")[0]
        assert [a["status"] for a in delivery["attempts"]] == [500, 202, 204]
        assert delivery["state"] == "delivered"
        ids = {r["headers"]["x-zm-trackingid"] for r in receiver.requests}
        assert len(ids) == 1


def test_gives_up_after_three_retries_and_times_out_slow_endpoints():
    with webhook_receiver(delay=0.3) as receiver, running_sandbox(
            retry_factor=0.0001, delivery_timeout=0.1,
            apps=[{"secret_token": SECRET, "event_url": receiver.url}]) as sandbox:
        sandbox.delete_user(sandbox.sandbox.world.user_id(
            sandbox.sandbox.world.first_account(), 5))
        assert sandbox.wait_deliveries(10)
        delivery = sandbox.deliveries("user.deleted")[0]
        assert delivery["state"] == "failed" and len(delivery["attempts"]) == 4
        assert all(a["error"] == "timeout" for a in delivery["attempts"])


def test_url_validation_checks_the_answer():
    with webhook_receiver(secret_token=SECRET) as good, webhook_receiver(
            secret_token="wrong") as bad, running_sandbox(apps=[
                {"secret_token": SECRET, "event_url": good.url},
                {"secret_token": SECRET, "event_url": bad.url}]) as sandbox:
        first, second = sandbox.apps
        assert sandbox.validate_url(first["client_id"], "plain123")["ok"] is True
        sent = json.loads(good.requests[0]["body"])
        assert sent["event"] == "endpoint.url_validation"
        assert sent["payload"] == {"plainToken": "plain123"}
        assert good.requests[0]["headers"]["x-zm-signature"].startswith("v0=")
        assert sandbox.validate_url(second["client_id"])["ok"] is False


def test_user_updated_and_deauthorized_envelopes():
    with webhook_receiver() as receiver, running_sandbox(apps=[
            {"secret_token": SECRET, "event_url": receiver.url}]) as sandbox:
        world = sandbox.sandbox.world
        user_id = world.user_id(world.first_account(), 2)
        old_dept = world.user(world.first_account(), 2)["dept"]
        sandbox.update_user(user_id, dept="Legal")
        sandbox.deauthorize(sandbox.app["client_id"])
        assert sandbox.wait_deliveries(5)
        # Deliveries run on their own threads, so arrival order is not guaranteed.
        bodies = {b["event"]: b for b in (json.loads(r["body"]) for r in receiver.requests)}
        updated, gone = bodies["user.updated"], bodies["app_deauthorized"]
        assert updated["payload"]["object"] == {"id": user_id, "dept": "Legal"}
        assert updated["payload"]["old_object"] == {"id": user_id, "dept": old_dept}
        assert updated["payload"]["operator"].endswith(".example")
        assert gone["event"] == "app_deauthorized" and "event_ts" not in gone
        assert gone["payload"]["client_id"] == sandbox.app["client_id"]
        assert isinstance(gone["payload"]["event_ts"], int)


def test_control_api_over_http():
    import requests

    with webhook_receiver() as receiver, running_sandbox() as sandbox:
        base = sandbox.base_url + "/_sandbox"
        app = requests.post(base + "/apps", json={"secret_token": SECRET,
                                                  "event_url": receiver.url}, timeout=5).json()
        ended = requests.post(base + "/meetings/end", json={
            "client_id": app["client_id"], "participants": 2, "minutes": 3}, timeout=5).json()
        assert ended["deliveries"]
        assert requests.post(base + "/wait", json={"timeout": 5}, timeout=10).json()["idle"]
        stats = requests.get(base + "/stats", timeout=5).json()
        assert stats["deliveries"][0]["state"] == "delivered"
        created = requests.post(base + "/users", json={"client_id": app["client_id"],
                                                       "email": "new@x.example"},
                                timeout=5).json()
        user_id = created["user"]["id"]
        assert requests.patch(f"{base}/users/{user_id}", json={"dept": "IT"},
                              timeout=5).json()["user"]["dept"] == "IT"
        assert requests.delete(f"{base}/users/{user_id}", timeout=5).status_code == 200
        assert requests.post(base + "/meetings/end", json={"bogus": 1},
                             timeout=5).status_code == 400
        assert requests.get(base + "/nothing", timeout=5).status_code == 404
        assert requests.post(base + "/reset", timeout=5).json() == {"ok": True}


def test_panel_buttons_end_a_meeting_and_add_a_user():
    import requests

    with webhook_receiver() as receiver, running_sandbox(apps=[
            {"secret_token": SECRET, "event_url": receiver.url}]) as sandbox:
        client_id = sandbox.app["client_id"]
        page = requests.get(sandbox.base_url + "/", headers={"Accept": "text/html"}, timeout=5)
        assert "End a meeting" in page.text and client_id in page.text
        answer = requests.post(sandbox.base_url + "/panel/meeting", timeout=5,
                               data={"client_id": client_id, "participants": "3",
                                     "minutes": "4"}, allow_redirects=False)
        assert answer.status_code == 303 and "Ended%20meeting" in answer.headers["Location"]
        requests.post(sandbox.base_url + "/panel/user", data={"client_id": client_id},
                      timeout=5)
        assert sandbox.wait_deliveries(5)
        events = sorted(json.loads(r["body"])["event"] for r in receiver.requests)
        assert events == ["meeting.ended", "user.created"]
        ended = next(json.loads(r["body"]) for r in receiver.requests
                     if "meeting.ended" in str(r["body"]))
        meeting = next(m for a in sandbox.sandbox.world.accounts.values() for m in
                       sandbox.sandbox.account_summary(a)["meetings"]
                       if m["uuid"] == ended["payload"]["object"]["uuid"])
        assert meeting["participants"] == 3 and meeting["minutes"] == 4
