"""The receiver's reading of a delivery's envelope at its edges, through `webhook_receive`:
exactly the longest values a row can hold, the smallest and largest times, where `event_ts`
may sit, what a missing or null payload becomes, the NUL escape PostgreSQL cannot store, and
header bytes compared as they came over the wire.

Each refusal is the exact answer Zoom gets (status and reason); each acceptance is checked on
the row it stored.
"""

import pytest

from tests.factories import TenantFactory
from tests.webhooks.test_receive import compact, signed_headers
from tests.webhooks.test_receive_details import receive
from zoom_integration.models import ZoomWebhookDelivery
from zoom_integration.webhooks.receive import (
    _BIGINT_MAX,
    MAX_ACCOUNT_ID_LENGTH,
    MAX_EVENT_LENGTH,
    WebhookAnswer,
    webhook_receive,
    webhook_signature_verify,
)

pytestmark = pytest.mark.django_db

BAD_ENVELOPE = WebhookAnswer(400, {"error": "bad_envelope"}, reason="bad_envelope")


def stored(tenant) -> ZoomWebhookDelivery:
    return ZoomWebhookDelivery.objects.get(tenant=tenant)


def test_an_event_name_of_the_longest_storable_length_is_kept():
    tenant = TenantFactory()
    event = "e" * MAX_EVENT_LENGTH
    assert receive(tenant, {"event": event, "payload": {"account_id": "A1"}}).status == 200
    assert stored(tenant).event == event


def test_an_account_id_of_the_longest_storable_length_is_kept():
    tenant = TenantFactory()
    account = "a" * MAX_ACCOUNT_ID_LENGTH
    assert receive(tenant, {"event": "user.created", "payload": {"account_id": account}}
                   ).status == 200
    assert stored(tenant).account_id == account


def test_an_account_id_one_longer_is_refused():
    tenant = TenantFactory()
    account = "a" * (MAX_ACCOUNT_ID_LENGTH + 1)
    assert receive(tenant, {"event": "user.created", "payload": {"account_id": account}}
                   ) == BAD_ENVELOPE


@pytest.mark.parametrize("event_ts", [0, _BIGINT_MAX])
def test_event_times_at_both_ends_of_the_column_are_kept(event_ts):
    tenant = TenantFactory()
    answer = receive(tenant, {"event": "user.created", "event_ts": event_ts,
                              "payload": {"account_id": "A1"}})
    assert answer.status == 200
    assert stored(tenant).event_ts == event_ts


@pytest.mark.parametrize("event_ts", [-1, _BIGINT_MAX + 1])
def test_event_times_beyond_the_column_are_refused(event_ts):
    tenant = TenantFactory()
    assert receive(tenant, {"event": "user.created", "event_ts": event_ts,
                            "payload": {"account_id": "A1"}}) == BAD_ENVELOPE


def test_an_event_time_only_in_the_payload_is_read_from_there():
    # app_deauthorized carries its event_ts inside the payload.
    tenant = TenantFactory()
    answer = receive(tenant, {"event": "app_deauthorized", "payload": {
        "account_id": "A1", "user_id": "U1", "event_ts": 1717000000456}})
    assert answer.status == 200
    assert stored(tenant).event_ts == 1717000000456


def test_a_top_level_event_time_wins_over_the_payload_s():
    tenant = TenantFactory()
    receive(tenant, {"event": "user.created", "event_ts": 1717000000001,
                     "payload": {"account_id": "A1", "event_ts": 1717000000002}})
    assert stored(tenant).event_ts == 1717000000001


@pytest.mark.parametrize("envelope", [{"event": "user.created"},
                                      {"event": "user.created", "payload": None}])
def test_a_missing_or_null_payload_is_an_empty_one(envelope):
    tenant = TenantFactory()  # no Zoom account id yet: no account to compare with
    assert receive(tenant, envelope).status == 200
    row = stored(tenant)
    assert (row.account_id, row.event_ts) == ("", None)


@pytest.mark.parametrize("escape", ["\\u0000", "\\u0000tail", "head\\u0000"])
def test_a_nul_escape_anywhere_is_refused_before_storing(escape):
    # PostgreSQL text cannot hold NUL; storing would fail on every retry Zoom makes.
    tenant = TenantFactory()
    # The escape as Zoom's JSON would carry it: written into the body text, not by json.dumps.
    body = (b'{"event":"user.created","payload":{"account_id":"A1","object":{"id":"'
            + escape.encode() + b'"}}}')
    answer = webhook_receive(tenant=tenant, body=body,
                             headers=signed_headers(tenant.secret_token, body))
    assert answer == BAD_ENVELOPE
    assert not ZoomWebhookDelivery.objects.filter(tenant=tenant).exists()


def test_a_signature_header_beyond_latin_1_is_a_bad_signature_not_an_error():
    # WSGI servers hand headers over as latin-1 text; any other caller may not. A character
    # latin-1 cannot hold is a wrong signature, never an exception.
    tenant = TenantFactory()
    body = compact({"event": "user.created", "payload": {"account_id": "A1"}})
    headers = {**signed_headers(tenant.secret_token, body), "x-zm-signature": "v0=\u20ac"}
    assert webhook_signature_verify(tenant=tenant, body=body, headers=headers) == "bad_signature"


def test_a_legacy_token_is_compared_as_the_bytes_that_came():
    # A token with non-ASCII characters arrives as its UTF-8 bytes, which WSGI decodes as
    # latin-1: the receiver must compare those bytes, not re-encode the decoded text.
    tenant = TenantFactory(secret_token="", verification_token="tök3n")
    body = compact({"event": "user.created", "payload": {"account_id": "A1"}})
    as_wsgi_hands_it_over = "tök3n".encode().decode("latin-1")
    assert webhook_signature_verify(tenant=tenant, body=body, headers={
        "authorization": as_wsgi_hands_it_over}) is None
    assert webhook_signature_verify(tenant=tenant, body=body, headers={
        "authorization": "tök3n"}) == "bad_token"
