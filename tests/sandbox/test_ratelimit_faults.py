"""Rate limits (docs/zoom.md, "Rate limits") and fault switches."""

import re
import time

import requests

from zoom_integration.sandbox.ratelimit import limits_for


def test_plan_presets_follow_the_reference():
    business, free = limits_for("business"), limits_for("free")
    assert business["Heavy"]["rate"] == 40 and business["Heavy+Resource-intensive"][
        "per_day"] == 60000
    assert business["Resource-intensive"] == {"rate": 20, "window": 60, "per_day": None}
    assert free["Light"] == {"rate": 4, "window": 1, "per_day": 6000}


def test_qps_limit_answers_429_with_zoom_headers(api, connected):
    sandbox, app, _token = connected
    sandbox.configure(rate_limits={"Medium": {"per_second": 3}})
    answers = [api("/users") for _ in range(6)]
    codes = [a.status_code for a in answers]
    assert codes[:3] == [200, 200, 200] and 429 in codes[3:]
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.json() == {"code": 429, "message": "You have reached the maximum per-second "
                              "rate limit for this API. Try again later."}
    assert refused.headers["X-RateLimit-Category"] == "Medium"
    assert refused.headers["X-RateLimit-Type"] == "QPS"
    assert refused.headers["X-RateLimit-Limit"] == "3"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert "Retry-After" not in refused.headers  # Zoom documents it for daily limits only
    time.sleep(1.05)
    assert api("/users").status_code == 200
    stats = sandbox.stats()["rate_limits"][app["account_id"]]["Medium"]
    assert stats["max_per_second"] >= 4 and stats["max_accepted_per_second"] <= 3
    assert stats["rejected_qps"] == codes.count(429)


def test_daily_limit_answers_iso_retry_after(api, connected):
    sandbox, app, token = connected
    sandbox.configure(rate_limits={"Light": {"per_day": 2}})
    assert [api("/users/me").status_code for _ in range(2)] == [200, 200]
    refused = api("/users/me")
    assert refused.status_code == 429
    assert refused.headers["X-RateLimit-Type"] == "Daily-limit"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT00:00:00Z", refused.headers["Retry-After"])
    assert "daily rate limit" in refused.json()["message"]
    sandbox.advance_clock(86400)  # the next UTC day (the access token has expired by then)
    fresh = requests.post(sandbox.base_url + "/oauth/token",
                          auth=(app["client_id"], app["client_secret"]),
                          data={"grant_type": "refresh_token",
                                "refresh_token": token["refresh_token"]}, timeout=5).json()
    me = requests.get(sandbox.api_base_url + "/users/me", timeout=5,
                      headers={"Authorization": f"Bearer {fresh['access_token']}"})
    assert me.status_code == 200


def test_heavy_and_resource_intensive_share_the_daily_cap(api, connected):
    sandbox, _app, _token = connected
    sandbox.configure(rate_limits={"Heavy+Resource-intensive": {"per_day": 2}})
    day = time.strftime("%Y-%m-%d", time.gmtime())
    listing = {"type": "past", "from": day, "to": day}
    assert api("/metrics/meetings", params=listing).status_code == 200
    uuid = sandbox.end_meeting()["uuid"]
    assert api(f"/metrics/meetings/{uuid}", params={"type": "past"}).status_code == 200
    refused = api("/metrics/meetings", params=listing)
    assert refused.status_code == 429
    assert refused.headers["X-RateLimit-Category"] == "Resource-intensive"


def test_success_answers_carry_rate_headers(api):
    answer = api("/users/me")
    assert answer.headers["X-RateLimit-Category"] == "Light"
    assert int(answer.headers["X-RateLimit-Remaining"]) < int(answer.headers["X-RateLimit-Limit"])


def test_fault_error_next_and_burst(api, connected):
    sandbox, _app, _token = connected
    sandbox.set_faults(error_next=2, error_status=503)
    assert [api("/users/me").status_code for _ in range(3)] == [503, 503, 200]
    sandbox.set_faults(burst_429_next=2)
    burst = [api("/users/me") for _ in range(3)]
    assert [a.status_code for a in burst] == [429, 429, 200]
    assert burst[0].headers["X-RateLimit-Type"] == "QPS"
    assert sandbox.stats()["faults"]["injected"] == {"errors": 2, "delays": 0, "bursts_429": 2}


def test_fault_delay_and_rate(api, connected):
    sandbox, _app, _token = connected
    sandbox.set_faults(delay=0.3, delay_next=1)
    started = time.monotonic()
    api("/users/me")
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    api("/users/me")
    assert time.monotonic() - started < 0.3
    sandbox.set_faults(error_rate=0.5, seed=1)
    codes = [api("/users/me").status_code for _ in range(20)]
    assert 0 < codes.count(500) < 20


def test_faults_on_the_token_endpoint_and_over_http(connected):
    sandbox, app, token = connected
    control = sandbox.base_url + "/_sandbox/faults"
    assert requests.post(control, json={"error_next": 1, "path_prefix": "/oauth/token"},
                         timeout=5).json()["error_next"] == 1
    answer = requests.post(sandbox.base_url + "/oauth/token",
                           auth=(app["client_id"], app["client_secret"]),
                           data={"grant_type": "refresh_token",
                                 "refresh_token": token["refresh_token"]}, timeout=5)
    assert answer.status_code == 500
    assert requests.delete(control, timeout=5).json()["error_next"] == 0
    assert requests.post(control, json={"nope": 1}, timeout=5).status_code == 400
