"""Forged and malformed input: a property-based fuzzer over POST /zoom/event and the
OAuth redirect, and tenant isolation.

Properties: never a 5xx; never a stored delivery without a valid signature for the host's
tenant; never a token exchange (`/oauth/token`, watched with `responses`) without a valid state
issued to this browser for this tenant, except the Installation URL flow (no `state` at all).
"""

from __future__ import annotations

import json
import secrets
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.conf import settings as django_settings
from django.test import Client
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from tests.factories import TenantFactory
from zoom_integration.models import ZoomConnection, ZoomWebhookDelivery

from .audit import LEDGER, record_artifact
from .zoomsign import compact, signed_headers

pytestmark = pytest.mark.django_db

FUZZ = settings(max_examples=80, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])
ONE_MIB = 1024 * 1024
ACCOUNT_A = "AcctAlpha01"
TOKEN_URL = "https://zoom.us/oauth/token"
ME_URL = "https://api.zoom.us/v2/users/me"


@pytest.fixture
def tenants(db):
    a = TenantFactory(slug="alpha", zoom_account_id=ACCOUNT_A)
    b = TenantFactory(slug="beta")
    legacy = TenantFactory(slug="legacy", secret_token="",
                           verification_token="LegacyVerif" + secrets.token_hex(8))
    LEDGER.add(legacy.verification_token)
    return {"a": a, "b": b, "legacy": legacy}


def host(tenant) -> str:
    return tenant.domains.get(is_primary=True).domain


def stored() -> int:
    return ZoomWebhookDelivery.objects.count()


# --- The webhook endpoint -----------------------------------------------------------------------

# Any text, NUL included (PostgreSQL cannot store NUL: the receiver must refuse it, not 503;
# test_a_signed_delivery_with_a_nul_character_is_not_answered_503 pins that case).
txt = st.text
EVENTS = ["user.created", "user.updated", "user.deleted", "meeting.ended", "webinar.ended",
          "app_deauthorized", "endpoint.url_validation", "meeting.started"]
scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats(allow_nan=False, allow_infinity=False) | txt(max_size=40))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(txt(max_size=12), inner, max_size=4),
                           max_leaves=15)
envelopes = st.fixed_dictionaries(
    {"event": st.sampled_from(EVENTS) | st.sampled_from(EVENTS) | txt(max_size=130),
     "payload": st.fixed_dictionaries(
         {"account_id": st.just(ACCOUNT_A) | txt(max_size=70) | st.integers(),
          "object": st.fixed_dictionaries({"id": txt(max_size=20) | st.integers(),
                                           "uuid": txt(max_size=40)},
                                          optional={"email": txt(max_size=30)}),
          "plainToken": txt(max_size=300)}) | json_values | st.fixed_dictionaries(
              {"account_id": st.just(ACCOUNT_A), "object": st.fixed_dictionaries(
                  {"id": txt(min_size=1, max_size=20), "uuid": txt(min_size=1)})})},
    optional={"event_ts": st.integers(min_value=-1, max_value=2**64) | txt(max_size=5)
              | st.floats(allow_nan=False, allow_infinity=False)})


@st.composite
def bodies(draw) -> bytes:
    kind = draw(st.sampled_from(["envelope", "envelope", "envelope", "json", "text", "binary",
                                 "huge"]))
    if kind == "binary":
        return draw(st.binary(max_size=2000))
    if kind == "text":
        return draw(txt(max_size=300)).encode(draw(st.sampled_from(["utf-8", "utf-16"])))
    if kind == "huge":
        return b'{"event":"user.created","pad":"' + b"x" * ONE_MIB + b'"}'
    obj = draw(envelopes) if kind == "envelope" else draw(json_values)
    shape = draw(st.sampled_from(["compact", "compact", "compact", "ascii", "spaced", "utf16",
                                  "latin1", "bom"]))
    if shape == "compact":
        return compact(obj)
    if shape == "ascii":
        return json.dumps(obj).encode()
    if shape == "spaced":
        return json.dumps(obj, indent=3, ensure_ascii=False).encode()
    if shape == "utf16":
        return json.dumps(obj, ensure_ascii=False).encode("utf-16")
    if shape == "bom":
        return b"\xef\xbb\xbf" + compact(obj)
    return json.dumps(obj, ensure_ascii=False).encode("latin-1", errors="replace")


SIGNINGS = ["valid", "none", "wrong_secret", "other_tenant", "garbage", "no_prefix", "stale",
            "future", "bad_timestamp", "other_body", "legacy_valid", "legacy_wrong"]


def headers_for(signing: str, body: bytes, tenants: dict, target: str, draw_text: str) -> dict:
    a, b, legacy = tenants["a"], tenants["b"], tenants["legacy"]
    own = {"a": a, "b": b, "legacy": legacy}.get(target)
    secret = (own.secret_token if own is not None and own.secret_token else a.secret_token)
    now = int(time.time())
    if signing == "valid":
        return signed_headers(secret, body)
    if signing == "none":
        return {}
    if signing == "wrong_secret":
        return signed_headers("NotTheSecret" + secrets.token_hex(8), body)
    if signing == "other_tenant":
        other = b if target != "b" else a
        return signed_headers(other.secret_token, body)
    if signing == "garbage":
        return {"x-zm-signature": draw_text, "x-zm-request-timestamp": draw_text}
    if signing == "no_prefix":
        return {**signed_headers(secret, body), "x-zm-signature":
                signed_headers(secret, body)["x-zm-signature"][3:]}
    # Outside the accepted window (which covers Zoom's retries, about 85 minutes), either way.
    outside = django_settings.ZOOM_WEBHOOK_MAX_SKEW_SECONDS + 600
    if signing == "stale":
        return signed_headers(secret, body, timestamp=now - outside)
    if signing == "future":
        return signed_headers(secret, body, timestamp=now + outside)
    if signing == "bad_timestamp":
        return {**signed_headers(secret, body), "x-zm-request-timestamp": draw_text or "x"}
    if signing == "other_body":
        return signed_headers(secret, body + b" ")
    if signing == "legacy_valid":
        return {"authorization": legacy.verification_token}
    return {"authorization": draw_text}  # legacy_wrong


def validly_signed(signing: str, target: str) -> bool:
    if target == "legacy":
        return signing == "legacy_valid"
    return target in ("a", "b") and signing == "valid"


@FUZZ
@given(body=bodies(), signing=st.sampled_from(SIGNINGS),
       target=st.sampled_from(["a", "a", "b", "legacy", "unknown"]),
       noise=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=80),
       content_type=st.sampled_from(["application/json", "text/plain", "",
                                     "application/json; charset=utf-16",
                                     "multipart/form-data; boundary=x"]))
@example(body=b"", signing="none", target="a", noise="", content_type="")
@example(body=compact({"event": "user.created", "payload": {"account_id": ACCOUNT_A}}),
         signing="valid", target="a", noise="", content_type="application/json")
def test_webhook_fuzz_never_5xx_never_stores_unsigned(tenants, body, signing, target, noise,
                                                       content_type):
    client = Client(enforce_csrf_checks=True)
    hostname = host(tenants[target]) if target in tenants else "nobody.portal.test"
    headers = headers_for(signing, body, tenants, target, noise)
    before = stored()
    # generic(): the body goes out byte for byte, whatever the content type claims.
    response = client.generic("POST", "/zoom/event", body, content_type=content_type,
                              headers={"host": hostname, **headers})
    assert response.status_code < 500, response.status_code
    event(f"{'signed' if validly_signed(signing, target) else 'unsigned'} → "
          f"{response.status_code}")
    if not validly_signed(signing, target):
        assert response.status_code != 200
        assert stored() == before
    else:
        assert response.status_code in (200, 400, 401, 413), response.status_code
        if response.status_code != 200:
            assert stored() == before
    if len(body) > ONE_MIB:
        assert response.status_code in (404, 413)


@settings(FUZZ, max_examples=30)
@given(method=st.sampled_from(["get", "put", "patch", "delete", "options", "head"]),
       target=st.sampled_from(["a", "unknown"]), body=st.binary(max_size=200))
def test_webhook_other_methods_are_refused(tenants, method, target, body):
    hostname = host(tenants["a"]) if target == "a" else "nobody.portal.test"
    response = Client().generic(method.upper(), "/zoom/event", body,
                                content_type="application/json", headers={"host": hostname})
    assert response.status_code in (404, 405)
    assert stored() == 0


@pytest.mark.parametrize("envelope", [
    {"event": "user.created\x00", "payload": {"account_id": ACCOUNT_A}},
    {"event": "user.created", "payload": {"account_id": ACCOUNT_A[:-1] + "\x00"}},
    {"event": "user.created", "event_ts": 1,
     "payload": {"account_id": ACCOUNT_A, "object": {"id": "u\x00"}}},
])
def test_a_signed_delivery_with_a_nul_character_is_not_answered_503(tenants, envelope):
    """Found by the fuzzer: these were answered 503 (not storable), so Zoom retried forever."""
    body = compact(envelope)
    # Tenant B: no Zoom account id known yet, so any account id is accepted.
    response = Client().post("/zoom/event", body, content_type="application/json",
                             headers={"host": host(tenants["b"]),
                                      **signed_headers(tenants["b"].secret_token, body)})
    assert response.status_code < 500


def test_huge_body_with_a_valid_signature_is_413_and_not_stored(tenants):
    body = compact({"event": "user.created", "payload": {"account_id": ACCOUNT_A,
                                                         "pad": "x" * ONE_MIB}})
    response = Client().post("/zoom/event", body, content_type="application/json",
                             headers={"host": host(tenants["a"]),
                                      **signed_headers(tenants["a"].secret_token, body)})
    assert response.status_code == 413
    assert stored() == 0


# --- Tenant isolation -----------------------------------------------------------------------------

def test_a_delivery_signed_for_tenant_a_is_refused_on_tenant_b_host(tenants):
    a, b = tenants["a"], tenants["b"]
    body = compact({"event": "user.created", "event_ts": int(time.time() * 1000),
                    "payload": {"account_id": ACCOUNT_A, "object": {"id": "u1"}}})
    on_b = Client().post("/zoom/event", body, content_type="application/json",
                         headers={"host": host(b), **signed_headers(a.secret_token, body)})
    assert on_b.status_code == 401
    assert stored() == 0
    # The same delivery on A's own host is accepted: the refusal above is about the tenant.
    on_a = Client().post("/zoom/event", body, content_type="application/json",
                         headers={"host": host(a), **signed_headers(a.secret_token, body)})
    assert on_a.status_code == 200
    assert list(ZoomWebhookDelivery.objects.values_list("tenant__slug", flat=True)) == ["alpha"]


@pytest.fixture
def zoom_token_endpoint():
    """Zoom's token and /users/me endpoints under `responses`: every call is recorded."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        access = "FuzzAccess" + secrets.token_hex(12)
        refresh = "FuzzRefresh" + secrets.token_hex(12)
        LEDGER.add(access, refresh)
        mock.add(responses.POST, TOKEN_URL, json={
            "access_token": access, "token_type": "bearer", "refresh_token": refresh,
            "expires_in": 3599, "scope": "user:read:admin", "api_url": "https://api.zoom.us"})
        mock.add(responses.GET, ME_URL, json={"id": "UsrA", "account_id": ACCOUNT_A,
                                              "email": "owner@alpha.example"})
        mock.add(responses.POST, "https://zoom.us/oauth/revoke", json={"status": "success"})
        yield mock


def token_calls(mock) -> int:
    return sum(1 for call in mock.calls if call.request.url.startswith(TOKEN_URL))


def start_flow(client: Client, tenant) -> str:
    response = client.get("/adminapi/zoom/oauth/start", headers={"host": host(tenant)})
    assert response.status_code == 302
    return parse_qs(urlsplit(response["Location"]).query)["state"][0]


def test_state_issued_for_a_cannot_complete_for_b(tenants, zoom_token_endpoint):
    client = Client()
    state = start_flow(client, tenants["a"])
    LEDGER.add(state)
    LEDGER.add("CodeForAlpha123")
    response = client.get("/adminapi/zoom/oauth/authorize",
                          {"code": "CodeForAlpha123", "state": state},
                          headers={"host": host(tenants["b"])})
    assert 400 <= response.status_code < 500
    assert token_calls(zoom_token_endpoint) == 0
    assert not ZoomConnection.objects.filter(tenant=tenants["b"]).exists()
    record_artifact("pages", "oauth-foreign-state", response.content)
    # And it is spent: replaying it on A's host is refused too.
    again = client.get("/adminapi/zoom/oauth/authorize",
                       {"code": "CodeForAlpha123", "state": state},
                       headers={"host": host(tenants["a"])})
    assert 400 <= again.status_code < 500
    assert token_calls(zoom_token_endpoint) == 0


def test_a_valid_state_does_exchange_the_code(tenants, zoom_token_endpoint):
    """The other side of the fuzz property: the fixture would see a legitimate exchange."""
    client = Client()
    state = start_flow(client, tenants["a"])
    LEDGER.add(state, "CodeForAlpha456")
    response = client.get("/adminapi/zoom/oauth/authorize",
                          {"code": "CodeForAlpha456", "state": state},
                          headers={"host": host(tenants["a"])})
    assert response.status_code == 302  # connected: on to the done page
    assert token_calls(zoom_token_endpoint) == 1
    page = client.get(response["Location"], headers={"host": host(tenants["a"])})
    record_artifact("pages", "oauth-success", page.content)  # for the secrets scan


@FUZZ
@given(code=st.none() | st.text(max_size=200),
       state_mode=st.sampled_from(["absent", "fuzzed", "empty", "issued", "issued_mutated",
                                   "issued_twice"]),
       fuzzed_state=st.text(max_size=100),
       error=st.none() | st.sampled_from(["access_denied", "invalid_request"]) | st.text(
           max_size=50),
       junk=st.lists(st.tuples(st.text(max_size=8), st.text(max_size=50)), max_size=3),
       target=st.sampled_from(["a", "a", "b", "unknown"]),
       started=st.sampled_from(["a", "a", "b", "none"]))
def test_oauth_callback_fuzz_never_5xx_never_exchanges_without_valid_state(
        tenants, zoom_token_endpoint, code, state_mode, fuzzed_state, error, junk, target,
        started):
    client = Client()
    issued = start_flow(client, tenants[started]) if started != "none" else None
    query = list(junk)
    if code is not None:
        query.append(("code", code))
    if error is not None:
        query.append(("error", error))
    if state_mode == "fuzzed":
        query.append(("state", fuzzed_state))
    elif state_mode == "empty":
        query.append(("state", ""))
    elif state_mode.startswith("issued"):
        value = issued or fuzzed_state
        if state_mode == "issued_mutated" and value:
            value = value[:-1] + ("A" if value[-1] != "A" else "B")
        query.append(("state", value))
    hostname = host(tenants[target]) if target in tenants else "nobody.portal.test"
    calls_before = token_calls(zoom_token_endpoint)
    response = client.get("/adminapi/zoom/oauth/authorize", query, headers={"host": hostname})
    if state_mode == "issued_twice" and response.status_code == 302:
        # The same state again (a replay): it is spent.
        calls_before = token_calls(zoom_token_endpoint)
        response = client.get("/adminapi/zoom/oauth/authorize", query,
                              headers={"host": hostname})
        assert response.status_code >= 400
    assert response.status_code < 500, response.status_code
    exchanged = token_calls(zoom_token_endpoint) - calls_before
    keys = [k for k, _ in query]
    states = [v for k, v in query if k == "state"]
    valid_state = (state_mode in ("issued", "issued_twice") and issued is not None
                   and started == target and states[-1] == issued)
    installation_flow = "state" not in keys and target in ("a", "b")
    event(f"{state_mode}: {response.status_code} exchanged={exchanged}")
    if exchanged:
        assert valid_state or installation_flow, (query, target, started)
        assert exchanged == 1
    if response.status_code == 302:  # connected: redirected to the done page
        assert exchanged == 1


@given(state=st.text(max_size=100))
@FUZZ
def test_a_fuzzed_state_never_reaches_zoom(tenants, zoom_token_endpoint, state):
    client = Client()
    start_flow(client, tenants["a"])
    response = client.get("/adminapi/zoom/oauth/authorize", {"code": "SomeCode12345",
                                                             "state": state},
                          headers={"host": host(tenants["a"])})
    assert 400 <= response.status_code < 500
    assert token_calls(zoom_token_endpoint) == 0
