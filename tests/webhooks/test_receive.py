"""POST /zoom/event: checks, signature, storing first, duplicates, answers."""

import hashlib
import hmac
import json
import time

import pytest
from django.db import OperationalError, connection
from django.test import Client

from tests.factories import TenantFactory
from zoom_integration.models import (
    DeliveryStatus,
    WebhookRejection,
    ZoomConnection,
    ZoomUser,
    ZoomWebhookDelivery,
)
from zoom_integration.webhooks.outbox import webhook_outbox_stored
from zoom_integration.webhooks.receive import webhook_signature_verify

pytestmark = pytest.mark.django_db

URL = "/zoom/event"


# Independent of the portal's code: Zoom's documented scheme, built by hand
# (https://developers.zoom.us/docs/api/webhooks/#verify-webhook-events).
def signed_headers(secret_token: str, body: bytes, timestamp: int | str | None = None) -> dict:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret_token.encode("utf-8"), b"v0:" + ts.encode() + b":" + body,
                      hashlib.sha256).hexdigest()
    return {"x-zm-request-timestamp": ts, "x-zm-signature": f"v0={digest}"}


def host_of(tenant) -> str:
    return tenant.domains.get(is_primary=True).domain


def post(client, tenant, body: bytes, headers: dict | None = None, **kwargs):
    return client.post(URL, body, content_type="application/json",
                       headers={"host": host_of(tenant), **(headers or {})}, **kwargs)


def user_created(user_id="Nn4Tt7", event_ts=1717000000123, email="ana@cust.example") -> dict:
    return {"event": "user.created", "event_ts": event_ts,
            "payload": {"account_id": "Aq7Zp1", "operator": "admin@cust.example",
                        "creation_type": "create",
                        "object": {"id": user_id, "first_name": "Ana", "last_name": "Ruiz",
                                   "email": email, "type": 1}}}


def compact(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def enqueued(callbacks) -> list[int]:
    """Delivery ids queued for processing among captured on-commit callbacks."""
    return [cb.keywords["delivery_id"] for cb in callbacks
            if getattr(cb, "func", None) is webhook_outbox_stored]


def rejections(tenant) -> dict[str, int]:
    return dict(WebhookRejection.objects.filter(tenant=tenant).values_list("reason", "count"))


@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True)


# --- verified deliveries are stored first, then processed ----------------------------------------

def test_signed_delivery_is_stored_and_processed_once(tenant, csrf_client,
                                                      django_capture_on_commit_callbacks):
    body = compact(user_created())
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post(csrf_client, tenant, body, signed_headers(tenant.secret_token, body))
    assert response.status_code == 200
    delivery = ZoomWebhookDelivery.objects.get(tenant=tenant)
    # processing was queued on commit, not run inside the storing transaction
    assert enqueued(callbacks) == [delivery.pk]
    assert delivery.event == "user.created"
    assert delivery.event_ts == 1717000000123
    assert delivery.account_id == "Aq7Zp1"
    assert delivery.body.encode() == body
    assert delivery.dedupe_key == "user.created:Nn4Tt7:1717000000123"
    assert delivery.status == DeliveryStatus.PROCESSED
    assert delivery.attempts == 1
    assert delivery.headers["x-zm-request-timestamp"]
    assert "authorization" not in delivery.headers
    assert ZoomUser.objects.get(tenant=tenant, zoom_id="Nn4Tt7").email == "ana@cust.example"


def test_unusual_spacing_and_non_ascii_body_verifies_over_raw_bytes(tenant, csrf_client):
    obj = user_created()
    obj["payload"]["object"]["first_name"] = "Zoë 日本語 — ☃"
    body = ('{  "event" :"user.created",\n\t"event_ts": 1717000000123 , "payload":'
            + json.dumps(obj["payload"], indent=3, ensure_ascii=False) + "}  \n").encode()
    response = post(csrf_client, tenant, body, signed_headers(tenant.secret_token, body))
    assert response.status_code == 200
    stored = ZoomWebhookDelivery.objects.get(tenant=tenant)
    assert stored.body.encode("utf-8") == body  # byte for byte, spacing kept
    # The same content with \u escapes is a different byte string: its signature does not
    # match the body above, so it is refused.
    escaped = ('{  "event" :"user.created",\n\t"event_ts": 1717000000123 , "payload":'
               + json.dumps(obj["payload"], indent=3) + "}  \n").encode()
    assert escaped != body
    response = post(csrf_client, tenant, escaped, signed_headers(tenant.secret_token, body))
    assert response.status_code == 401


def test_one_changed_byte_is_refused(tenant, csrf_client):
    body = compact(user_created())
    headers = signed_headers(tenant.secret_token, body)
    tampered = body.replace(b"Ana", b"Anb")
    assert len(tampered) == len(body)
    response = post(csrf_client, tenant, tampered, headers)
    assert response.status_code == 401
    assert response.json() == {"error": "bad_signature"}
    assert not ZoomWebhookDelivery.objects.exists()
    assert rejections(tenant) == {"bad_signature": 1}


def test_another_tenants_secret_is_refused(tenant, csrf_client):
    other = TenantFactory()
    body = compact(user_created())
    response = post(csrf_client, tenant, body, signed_headers(other.secret_token, body))
    assert response.status_code == 401
    assert not ZoomWebhookDelivery.objects.exists()
    # ...and the same delivery on the other tenant's host is accepted there, not here.
    response = post(csrf_client, other, body, signed_headers(other.secret_token, body))
    assert response.status_code == 200
    assert list(ZoomWebhookDelivery.objects.values_list("tenant", flat=True)) == [other.pk]


@pytest.mark.parametrize("drop, expected_reason", [
    ("x-zm-signature", "missing_signature"),
    ("x-zm-request-timestamp", "missing_timestamp"),
])
def test_missing_header_is_refused(tenant, csrf_client, drop, expected_reason):
    body = compact(user_created())
    headers = signed_headers(tenant.secret_token, body)
    del headers[drop]
    response = post(csrf_client, tenant, body, headers)
    assert response.status_code == 401
    assert rejections(tenant) == {expected_reason: 1}


def test_signature_without_v0_prefix_is_refused(tenant, csrf_client):
    body = compact(user_created())
    headers = signed_headers(tenant.secret_token, body)
    headers["x-zm-signature"] = headers["x-zm-signature"].removeprefix("v0=")
    response = post(csrf_client, tenant, body, headers)
    assert response.status_code == 401
    assert rejections(tenant) == {"malformed_signature": 1}


def test_timestamp_edges_exactly(tenant, settings):
    settings.ZOOM_WEBHOOK_MAX_SKEW_SECONDS = 300
    body = compact(user_created())
    now = 1_800_000_000
    for offset, expected in [(-300, None), (300, None), (-301, "stale_timestamp"),
                             (301, "stale_timestamp")]:
        headers = signed_headers(tenant.secret_token, body, now + offset)
        assert webhook_signature_verify(tenant=tenant, body=body, headers=headers,
                                        now=now) == expected, offset


@pytest.mark.parametrize("offset, status", [(-295, 200), (295, 200), (-310, 401), (310, 401)])
def test_timestamp_window_both_directions_over_http(tenant, csrf_client, settings, offset,
                                                    status):
    settings.ZOOM_WEBHOOK_MAX_SKEW_SECONDS = 300
    body = compact(user_created())
    response = post(csrf_client, tenant, body,
                    signed_headers(tenant.secret_token, body, int(time.time()) + offset))
    assert response.status_code == status
    if status == 401:
        assert rejections(tenant) == {"stale_timestamp": 1}


def test_legacy_verification_token(csrf_client):
    legacy = TenantFactory(secret_token="", verification_token="legacyVerificationTok3n")
    body = compact(user_created())
    assert post(csrf_client, legacy, body, {"authorization": "legacyVerificationTok3n"}
                ).status_code == 200
    assert post(csrf_client, legacy, compact(user_created("Other1")),
                {"authorization": "legacyVerificationTok3x"}).status_code == 401
    assert post(csrf_client, legacy, compact(user_created("Other2"))).status_code == 401
    assert rejections(legacy) == {"bad_token": 1, "missing_token": 1}
    assert ZoomWebhookDelivery.objects.filter(tenant=legacy).count() == 1


def test_tenant_with_neither_secret_is_refused(csrf_client):
    bare = TenantFactory(secret_token="", verification_token="")
    body = compact(user_created())
    response = post(csrf_client, bare, body, signed_headers("anything-at-all", body))
    assert response.status_code == 401
    assert rejections(bare) == {"no_secret_configured": 1}


def test_secret_token_wins_over_legacy_token(csrf_client):
    both = TenantFactory(verification_token="legacyVerificationTok3n")
    body = compact(user_created())
    # The legacy header alone is not enough once a Secret Token is set (Zoom
    # retired it: treat it as gone).
    assert post(csrf_client, both, body, {"authorization": "legacyVerificationTok3n"}
                ).status_code == 401
    assert post(csrf_client, both, body, signed_headers(both.secret_token, body)
                ).status_code == 200


# --- URL validation -----------------------------------------------------------------------------

def test_url_validation_answers_and_records_the_time(tenant, csrf_client):
    body = compact({"event": "endpoint.url_validation", "event_ts": 1717000000123,
                    "payload": {"plainToken": "aZ9fQe0b"}})
    response = post(csrf_client, tenant, body, signed_headers(tenant.secret_token, body))
    assert response.status_code == 200
    expected = hmac.new(tenant.secret_token.encode(), b"aZ9fQe0b", hashlib.sha256).hexdigest()
    assert response.json() == {"plainToken": "aZ9fQe0b", "encryptedToken": expected}
    first = ZoomConnection.objects.get(tenant=tenant).endpoint_validated_at
    assert first is not None
    # Zoom re-validates every 72 hours: the time moves, the row stays one.
    response = post(csrf_client, tenant, body, signed_headers(tenant.secret_token, body))
    assert response.status_code == 200
    assert ZoomConnection.objects.get(tenant=tenant).endpoint_validated_at > first
    assert not ZoomWebhookDelivery.objects.exists()  # answered, not stored


def test_url_validation_touches_only_the_validation_time(tenant, csrf_client):
    ZoomConnection.objects.create(tenant=tenant, state="connected", scopes="user:read:admin")
    body = compact({"event": "endpoint.url_validation", "payload": {"plainToken": "x1"}})
    assert post(csrf_client, tenant, body, signed_headers(tenant.secret_token, body)
                ).status_code == 200
    conn = ZoomConnection.objects.get(tenant=tenant)
    assert (conn.state, conn.scopes) == ("connected", "user:read:admin")
    assert conn.endpoint_validated_at is not None


def test_url_validation_must_be_signed(tenant, csrf_client):
    body = compact({"event": "endpoint.url_validation", "payload": {"plainToken": "x1"}})
    response = post(csrf_client, tenant, body, signed_headers("not-the-secret", body))
    assert response.status_code == 401
    assert not ZoomConnection.objects.filter(tenant=tenant).exists()


@pytest.mark.parametrize("payload", [{}, {"plainToken": ""}, {"plainToken": 7},
                                     {"plainToken": "x" * 300}])
def test_url_validation_without_usable_plain_token_is_400(tenant, csrf_client, payload):
    body = compact({"event": "endpoint.url_validation", "payload": payload})
    response = post(csrf_client, tenant, body, signed_headers(tenant.secret_token, body))
    assert response.status_code == 400


# --- account, size, shape, method, host -----------------------------------------------------------

def test_account_id_must_match_when_known(csrf_client):
    known = TenantFactory(zoom_account_id="Aq7Zp1")
    good = compact(user_created())
    assert post(csrf_client, known, good, signed_headers(known.secret_token, good)
                ).status_code == 200
    other = user_created("Zz1")
    other["payload"]["account_id"] = "SomeoneElse"
    bad = compact(other)
    assert post(csrf_client, known, bad, signed_headers(known.secret_token, bad)
                ).status_code == 401
    missing = user_created("Zz2")
    del missing["payload"]["account_id"]
    missing_body = compact(missing)
    assert post(csrf_client, known, missing_body,
                signed_headers(known.secret_token, missing_body)).status_code == 401
    assert rejections(known) == {"account_mismatch": 2}
    assert ZoomWebhookDelivery.objects.filter(tenant=known).count() == 1


def test_body_over_one_mib_is_413(tenant, csrf_client):
    body = compact({"event": "user.created", "pad": "x" * (1024 * 1024)})
    response = post(csrf_client, tenant, body, signed_headers(tenant.secret_token, body))
    assert response.status_code == 413
    assert rejections(tenant) == {"too_large": 1}


def test_body_of_exactly_one_mib_is_read(tenant, csrf_client):
    head = compact({"event": "user.created", "pad": ""})
    body = head[:-2] + b"x" * (1024 * 1024 - len(head)) + head[-2:]
    assert len(body) == 1024 * 1024
    response = post(csrf_client, tenant, body, signed_headers(tenant.secret_token, body))
    assert response.status_code == 200


@pytest.mark.parametrize("body, reason", [
    (b"not json", "not_json"),
    (b"", "not_json"),
    (b"\xff\xfe{}", "not_utf8"),
    (b"[" * 100000 + b"]" * 100000, "not_json"),
    (b'["event"]', "no_event"),
    (b'{"payload": {}}', "no_event"),
    (b'{"event": ""}', "no_event"),
    (b'{"event": 5}', "no_event"),
    (b'{"event": "user.created", "payload": []}', "bad_envelope"),
    (b'{"event": "user.created", "event_ts": "soon"}', "bad_envelope"),
    (b'{"event": "user.created", "event_ts": 1e400}', "bad_envelope"),
    (b'{"event": "user.created", "payload": {"account_id": 17}}', "bad_envelope"),
    ('{"event": "%s"}' % ("e" * 101), "bad_envelope"),
])
def test_malformed_body_is_400(tenant, csrf_client, body, reason):
    body = body.encode() if isinstance(body, str) else body
    response = post(csrf_client, tenant, body, signed_headers(tenant.secret_token, body))
    assert response.status_code == 400
    assert rejections(tenant) == {reason: 1}
    assert not ZoomWebhookDelivery.objects.exists()


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_other_methods_are_405(tenant, csrf_client, method):
    response = getattr(csrf_client, method)(URL, headers={"host": host_of(tenant)})
    assert response.status_code == 405


def test_unknown_host_is_404(csrf_client):
    body = compact(user_created())
    response = csrf_client.post(URL, body, content_type="application/json",
                                headers={"host": "nobody.portal.test",
                                         **signed_headers("x", body)})
    assert response.status_code == 404


def test_inactive_tenant_is_404(csrf_client):
    inactive = TenantFactory(is_active=False)
    body = compact(user_created())
    assert post(csrf_client, inactive, body, signed_headers(inactive.secret_token, body)
                ).status_code == 404


def test_webhook_host_of_a_tenant_is_accepted(tenant, csrf_client):
    tenant.domains.create(domain="hooks.acme.test", is_webhook=True)
    body = compact(user_created())
    response = csrf_client.post(URL, body, content_type="application/json",
                                headers={"host": "HOOKS.acme.test:443",
                                         **signed_headers(tenant.secret_token, body)})
    assert response.status_code == 200


def test_no_session_or_login_needed_and_no_cookie_set(tenant, csrf_client):
    body = compact(user_created())
    response = post(csrf_client, tenant, body, signed_headers(tenant.secret_token, body))
    assert response.status_code == 200
    assert not response.cookies


# --- duplicates ---------------------------------------------------------------------------------

def test_duplicates_in_sequence_are_one_row(tenant, csrf_client,
                                            django_capture_on_commit_callbacks):
    body = compact(user_created())
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        for _ in range(3):
            # Zoom signs each retry afresh (timestamps differ); the body is the same event.
            response = post(csrf_client, tenant, body, signed_headers(tenant.secret_token, body))
            assert response.status_code == 200
    delivery = ZoomWebhookDelivery.objects.get(tenant=tenant)
    assert enqueued(callbacks) == [delivery.pk]  # only the first was queued
    assert delivery.duplicates == 2
    assert delivery.attempts == 1


def test_same_meeting_uuid_with_other_bytes_is_a_duplicate(tenant, csrf_client):
    first = {"event": "meeting.ended", "event_ts": 1,
             "payload": {"account_id": "A", "object": {"uuid": "qW3+kL0/Zx9==", "id": "1"}}}
    again = {**first, "event_ts": 2}
    for message in (first, again):
        body = compact(message)
        assert post(csrf_client, tenant, body, signed_headers(tenant.secret_token, body)
                    ).status_code == 200
    delivery = ZoomWebhookDelivery.objects.get(tenant=tenant)
    assert delivery.dedupe_key == "meeting.ended:qW3+kL0/Zx9=="
    assert delivery.duplicates == 1


def test_new_meeting_instance_and_later_user_change_are_new_rows(tenant, csrf_client):
    messages = [
        {"event": "meeting.ended", "payload": {"object": {"uuid": "u1=="}}},
        {"event": "meeting.ended", "payload": {"object": {"uuid": "u2=="}}},  # a rejoin
        {"event": "webinar.ended", "payload": {"object": {"uuid": "u1=="}}},
        user_created("Nn4Tt7", event_ts=1),
        user_created("Nn4Tt7", event_ts=2),
        {**user_created("Nn4Tt7", event_ts=2), "event": "user.updated"},
        {"event": "app_deauthorized", "payload": {"account_id": "A", "event_ts": 5}},
        {"event": "recording.completed", "payload": {"object": {"uuid": "u1=="}}},
    ]
    for message in messages:
        body = compact(message)
        assert post(csrf_client, tenant, body, signed_headers(tenant.secret_token, body)
                    ).status_code == 200
    assert ZoomWebhookDelivery.objects.filter(tenant=tenant).count() == len(messages)


def test_same_event_for_two_tenants_is_two_rows(csrf_client):
    one, two = TenantFactory(), TenantFactory()
    body = compact(user_created())
    for t in (one, two):
        assert post(csrf_client, t, body, signed_headers(t.secret_token, body)).status_code == 200
    assert ZoomWebhookDelivery.objects.count() == 2


# --- database down ------------------------------------------------------------------------------

def test_database_failure_while_storing_is_503(tenant, csrf_client):
    def refuse_delivery_insert(execute, sql, params, many, context):
        if 'INSERT INTO "zoom_integration_zoomwebhookdelivery"' in sql:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    body = compact(user_created())
    with connection.execute_wrapper(refuse_delivery_insert):
        response = post(csrf_client, tenant, body, signed_headers(tenant.secret_token, body))
    assert response.status_code == 503
    assert not ZoomWebhookDelivery.objects.exists()
    # Zoom retries; once the database is back the delivery is stored.
    response = post(csrf_client, tenant, body, signed_headers(tenant.secret_token, body))
    assert response.status_code == 200
    assert ZoomWebhookDelivery.objects.filter(tenant=tenant).count() == 1


def test_rejection_tally_counts_per_reason_and_day(tenant, csrf_client):
    body = compact(user_created())
    for _ in range(3):
        post(csrf_client, tenant, body, signed_headers("wrong", body))
    post(csrf_client, tenant, b"nope", signed_headers(tenant.secret_token, b"nope"))
    tally = WebhookRejection.objects.get(tenant=tenant, reason="bad_signature")
    assert tally.count == 3
    assert tally.last_at is not None
    assert rejections(tenant) == {"bad_signature": 3, "not_json": 1}


def test_legacy_tenant_cannot_answer_url_validation(csrf_client):
    legacy = TenantFactory(secret_token="", verification_token="legacyVerificationTok3n")
    body = compact({"event": "endpoint.url_validation", "payload": {"plainToken": "x1"}})
    response = post(csrf_client, legacy, body, {"authorization": "legacyVerificationTok3n"})
    assert response.status_code == 401
    assert rejections(legacy) == {"validation_needs_secret_token": 1}


def test_answers_even_behind_login_required_middleware(tenant, csrf_client, settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE,
                           "django.contrib.auth.middleware.LoginRequiredMiddleware"]
    body = compact(user_created())
    response = post(csrf_client, tenant, body, signed_headers(tenant.secret_token, body))
    assert response.status_code == 200


def test_view_opts_out_of_request_transactions_and_csrf():
    from zoom_integration.views.webhook import zoom_event

    assert "default" in zoom_event._non_atomic_requests
    assert zoom_event.csrf_exempt is True
    assert zoom_event.login_required is False
