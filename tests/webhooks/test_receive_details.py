"""The receiver's answer and records in detail, through `webhook_receive` and its public helpers.

What the HTTP tests (test_receive.py) cannot see: the view answers 200 for an answer without a
status and shows neither the delivery id nor the duplicate flag, which the metrics read. Here:
the answer itself for a new row, a repeat and each way storing fails; what the row keeps;
the PostgreSQL wake-up of the outbox; the portable path (the SQLite of `make run`); the
rejection tally and the endpoint-validation record, including their races; the dedupe key's
edges; and the log line an operator gets when a delivery is not stored.

Races are played out on the real database: a connection execute wrapper lets the competing
write commit between two of the receiver's statements, as a concurrent request would.
"""

import hashlib
import hmac
import logging
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from tenants.models import Tenant
from tests.factories import TenantFactory
from tests.webhooks.test_receive import compact, rejections, signed_headers, user_created
from zoom_integration.models import (
    DeliveryStatus,
    WebhookRejection,
    ZoomConnection,
    ZoomWebhookDelivery,
)
from zoom_integration.webhooks.dispatcher import _listen_connection
from zoom_integration.webhooks.outbox import OUTBOX_CHANNEL
from zoom_integration.webhooks.receive import (
    WebhookAnswer,
    connection_endpoint_validated,
    webhook_dedupe_key,
    webhook_receive,
    webhook_rejection_record,
)

pytestmark = pytest.mark.django_db

RECEIVER_LOGGER = "zoom_integration.webhooks.receive"
DELIVERY_TABLE = '"zoom_integration_zoomwebhookdelivery"'
CONNECTION_TABLE = '"zoom_integration_zoomconnection"'
REJECTION_TABLE = '"zoom_integration_webhookrejection"'
NOT_STORED = WebhookAnswer(503, {"error": "not stored"}, reason="not_stored")
USER_KEY = "user.created:Nn4Tt7:1717000000123"  # the dedupe key of user_created()


def receive(tenant, obj: dict, *, extra_headers: dict | None = None,
            remote_addr: str | None = None) -> WebhookAnswer:
    body = compact(obj)
    headers = {**signed_headers(tenant.secret_token, body), **(extra_headers or {})}
    return webhook_receive(tenant=tenant, body=body, headers=headers, remote_addr=remote_addr)


def meeting_ended(uuid: str) -> dict:
    return {"event": "meeting.ended", "event_ts": 1717000000999,
            "payload": {"account_id": "Aq7Zp1", "object": {"uuid": uuid, "id": "8601"}}}


def url_validation(plain_token) -> dict:
    return {"event": "endpoint.url_validation", "event_ts": 1717000000123,
            "payload": {"plainToken": plain_token}}


@pytest.fixture
def portable(monkeypatch):
    """Steers the receiver onto the path it takes on databases other than PostgreSQL. That path
    is plain ORM code, so PostgreSQL runs it here as SQLite would under `make run`."""
    monkeypatch.setattr(connection, "vendor", "sqlite")


def after_statement(verb: str, table: str, then):
    """An execute wrapper that runs `then()` once, right after the first statement that starts
    with `verb` and names `table` has run: another request's write landing between two of ours."""
    done = []

    def wrapper(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not done and sql.startswith(verb) and table in sql:
            done.append(True)
            then()
        return result

    return wrapper


def failing(fragment: str, exc: Exception):
    """An execute wrapper refusing every statement that contains `fragment`."""
    def wrapper(execute, sql, params, many, context):
        if fragment in sql:
            raise exc
        return execute(sql, params, many, context)

    return wrapper


def logged(caplog, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == RECEIVER_LOGGER and r.levelno == level]


# --- a new delivery ---------------------------------------------------------------------------

def test_a_new_delivery_is_answered_200_with_its_row_id():
    tenant = TenantFactory()
    answer = receive(tenant, user_created())
    delivery = ZoomWebhookDelivery.objects.get(tenant=tenant)
    assert answer == WebhookAnswer(200, delivery_id=delivery.pk)


def test_the_row_keeps_the_sender_address_and_headers_cut_to_500_characters():
    tenant = TenantFactory()
    agent = "Zoom Marketplace/1.1a " + "x" * 600
    receive(tenant, user_created(), remote_addr="203.0.113.9",
            extra_headers={"User-Agent": agent, "x-zm-trackingid": "v=2.0;rid=WEB_1",
                           "authorization": "never-kept"})
    delivery = ZoomWebhookDelivery.objects.get(tenant=tenant)
    assert delivery.remote_addr == "203.0.113.9"
    assert delivery.headers["user-agent"] == agent[:500]
    assert delivery.headers["x-zm-trackingid"] == "v=2.0;rid=WEB_1"
    assert "authorization" not in delivery.headers


def test_a_sender_address_that_is_not_an_ip_is_not_kept():
    tenant = TenantFactory()
    receive(tenant, user_created(), remote_addr="unix:/run/gunicorn.sock")
    assert ZoomWebhookDelivery.objects.get(tenant=tenant).remote_addr is None


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_committed_delivery_wakes_the_outbox_dispatchers():
    tenant = TenantFactory()
    with _listen_connection() as listener:
        # Autocommit, as in the view: the row commits with the statement, and so does NOTIFY.
        assert receive(tenant, user_created()).status == 200
        # The timeout only bounds a failure; a notification ends the wait at once.
        woken = [n.channel for n in listener.notifies(timeout=10, stop_after=1)]
    assert woken == [OUTBOX_CHANNEL]


# --- a repeat ---------------------------------------------------------------------------------

def test_a_repeat_is_answered_200_as_a_duplicate_and_counted_on_its_own_row_only():
    tenant, neighbour = TenantFactory(), TenantFactory()
    receive(tenant, user_created())
    receive(tenant, meeting_ended("other-meeting=="))
    receive(neighbour, user_created())  # the same event for another tenant: its own row

    assert receive(tenant, user_created()) == WebhookAnswer(200, duplicate=True)

    counts = dict(ZoomWebhookDelivery.objects.filter(tenant=tenant)
                  .values_list("dedupe_key", "duplicates"))
    assert counts == {USER_KEY: 1, "meeting.ended:other-meeting==": 0}
    assert ZoomWebhookDelivery.objects.get(tenant=neighbour).duplicates == 0


# --- not stored: 503, so that Zoom retries ----------------------------------------------------

def test_database_failure_while_storing_is_503_not_stored_and_logged_with_traceback(caplog):
    tenant = TenantFactory()
    with connection.execute_wrapper(failing(f"INSERT INTO {DELIVERY_TABLE}", OperationalError(
            "server closed the connection unexpectedly"))):
        answer = receive(tenant, user_created())
    assert answer == NOT_STORED
    [record] = logged(caplog, logging.ERROR)
    assert record.getMessage() == (
        f"webhook for tenant {tenant.slug} not stored: database unavailable")
    assert record.exc_info and record.exc_info[0] is OperationalError


@pytest.mark.parametrize("path", ["postgresql", "portable"])
def test_delivery_for_a_tenant_deleted_meanwhile_is_503_and_spoils_no_transaction(
        request, caplog, path):
    if path == "portable":
        request.getfixturevalue("portable")
    tenant = TenantFactory()
    other = TenantFactory()
    receive(other, user_created())  # the same key on another tenant is no excuse
    Tenant.objects.filter(pk=tenant.pk).delete()  # the instance in hand stays as it was
    with connection.cursor() as cursor:
        # Django's foreign keys are checked at commit; this test runs inside one transaction,
        # so ask PostgreSQL to check them per statement, as autocommit does.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    assert receive(tenant, user_created()) == NOT_STORED
    # Inside a caller's transaction the failed insert was rolled back to a savepoint: the
    # transaction goes on.
    assert ZoomWebhookDelivery.objects.filter(tenant_id=tenant.pk).count() == 0
    [record] = logged(caplog, logging.ERROR)
    assert record.getMessage() == f"webhook for tenant {tenant.slug} not stored: integrity error"


def test_a_repeat_whose_row_vanished_before_it_was_counted_is_503(caplog):
    tenant = TenantFactory()
    receive(tenant, user_created())

    def purge():  # e.g. a retention purge between the conflict and the count
        ZoomWebhookDelivery.objects.filter(tenant=tenant).delete()

    with connection.execute_wrapper(after_statement("WITH", DELIVERY_TABLE, purge)):
        answer = receive(tenant, user_created())
    assert answer == NOT_STORED
    [record] = logged(caplog, logging.ERROR)
    assert record.getMessage() == f"webhook for tenant {tenant.slug} not stored: duplicate vanished"


# --- the portable path (databases other than PostgreSQL) --------------------------------------

def test_on_other_databases_the_whole_row_is_stored(portable):
    tenant = TenantFactory()
    obj = user_created()
    answer = receive(tenant, obj, remote_addr="2001:db8::7",
                     extra_headers={"x-zm-trackingid": "v=2.0;rid=WEB_2"})
    delivery = ZoomWebhookDelivery.objects.get(tenant=tenant)
    assert answer == WebhookAnswer(200, delivery_id=delivery.pk)
    assert (delivery.event, delivery.event_ts, delivery.account_id, delivery.dedupe_key) == (
        "user.created", 1717000000123, "Aq7Zp1", USER_KEY)
    assert delivery.body.encode() == compact(obj)
    assert delivery.remote_addr == "2001:db8::7"
    assert delivery.headers["x-zm-trackingid"] == "v=2.0;rid=WEB_2"
    assert (delivery.status, delivery.queued_at) == (DeliveryStatus.PENDING, None)


def test_on_other_databases_a_tenants_rows_do_not_make_others_duplicates(portable):
    tenant, neighbour = TenantFactory(), TenantFactory()
    assert receive(tenant, user_created()).delivery_id is not None
    # The same event for another tenant, and another event for the same tenant: new rows.
    assert receive(neighbour, user_created()).delivery_id is not None
    assert receive(tenant, meeting_ended("m1==")).delivery_id is not None
    assert receive(tenant, user_created()) == WebhookAnswer(200, duplicate=True)
    assert ZoomWebhookDelivery.objects.count() == 3
    assert ZoomWebhookDelivery.objects.get(tenant=tenant, dedupe_key=USER_KEY).duplicates == 1


def test_on_other_databases_a_copy_stored_after_the_check_makes_a_duplicate(portable):
    tenant = TenantFactory()

    def concurrent_copy():  # another request stores the same event after our look-up
        ZoomWebhookDelivery.objects.create(tenant=tenant, event="user.created",
                                           dedupe_key=USER_KEY, body="{}")

    with connection.execute_wrapper(after_statement("SELECT", DELIVERY_TABLE, concurrent_copy)):
        answer = receive(tenant, user_created())
    assert answer == WebhookAnswer(200, duplicate=True)
    assert ZoomWebhookDelivery.objects.get(tenant=tenant).duplicates == 1


# --- URL validation ---------------------------------------------------------------------------

def test_url_validation_accepts_a_plain_token_of_the_longest_allowed_length():
    tenant = TenantFactory()
    plain = "p" * 256
    answer = receive(tenant, url_validation(plain))
    assert answer.status == 200
    expected = hmac.new(tenant.secret_token.encode(), plain.encode(), hashlib.sha256).hexdigest()
    assert answer.json == {"plainToken": plain, "encryptedToken": expected}


def test_url_validation_without_a_plain_token_is_refused_as_bad_plain_token():
    tenant = TenantFactory()
    answer = receive(tenant, {"event": "endpoint.url_validation", "payload": {}})
    assert answer == WebhookAnswer(400, {"error": "bad_plain_token"}, reason="bad_plain_token")
    assert rejections(tenant) == {"bad_plain_token": 1}


def test_url_validation_is_answered_even_when_its_time_cannot_be_recorded(caplog):
    tenant = TenantFactory()
    with connection.execute_wrapper(failing(CONNECTION_TABLE,
                                            OperationalError("database is shutting down"))):
        answer = receive(tenant, url_validation("aZ9fQe0b"))
    assert answer.status == 200 and answer.json["plainToken"] == "aZ9fQe0b"
    [record] = logged(caplog, logging.WARNING)
    assert record.getMessage() == (
        f"could not record the endpoint validation of tenant {tenant.slug}")
    assert record.exc_info and record.exc_info[0] is OperationalError


def test_url_validation_of_a_known_connection_costs_one_update():
    # Zoom waits at most 3 seconds: the usual case (the row exists) is one statement.
    from django.test.utils import CaptureQueriesContext

    tenant = TenantFactory()
    ZoomConnection.objects.create(tenant=tenant)
    with CaptureQueriesContext(connection) as queries:
        connection_endpoint_validated(tenant=tenant)
    statements = [q["sql"] for q in queries.captured_queries
                  if CONNECTION_TABLE in q["sql"]]
    assert len(statements) == 1 and statements[0].startswith("UPDATE")
    assert ZoomConnection.objects.get(tenant=tenant).endpoint_validated_at is not None


def test_url_validation_racing_a_new_connection_row_still_records_the_time():
    tenant = TenantFactory()

    def connection_created():  # e.g. the admin authorizing the app at that moment
        ZoomConnection.objects.create(tenant=tenant, endpoint_validated_at=None)

    with connection.execute_wrapper(after_statement("UPDATE", CONNECTION_TABLE,
                                                    connection_created)):
        assert receive(tenant, url_validation("aZ9fQe0b")).status == 200
    [validated_at] = ZoomConnection.objects.filter(tenant=tenant).values_list(
        "endpoint_validated_at", flat=True)
    assert validated_at is not None


# --- the rejection tally ----------------------------------------------------------------------

def test_a_refusal_is_counted_on_its_tenants_tally_for_today_only():
    tenant, neighbour = TenantFactory(), TenantFactory()
    now = timezone.now()
    earlier = now - timedelta(days=1)
    yesterday = WebhookRejection.objects.create(tenant=tenant, reason="bad_signature",
                                                day=earlier.date(), count=4, last_at=earlier)
    theirs = WebhookRejection.objects.create(tenant=neighbour, reason="bad_signature",
                                             day=now.date(), count=7, last_at=earlier)

    webhook_rejection_record(tenant=tenant, reason="bad_signature")

    today = WebhookRejection.objects.get(tenant=tenant, reason="bad_signature", day=now.date())
    assert today.count == 1
    yesterday.refresh_from_db()
    theirs.refresh_from_db()
    assert (yesterday.count, theirs.count) == (4, 7)


def test_a_further_refusal_moves_the_tallys_last_time():
    tenant = TenantFactory()
    now = timezone.now()
    earlier = now - timedelta(days=1)
    tally = WebhookRejection.objects.create(tenant=tenant, reason="not_json", day=now.date(),
                                            count=2, last_at=earlier)
    webhook_rejection_record(tenant=tenant, reason="not_json")
    tally.refresh_from_db()
    assert tally.count == 3
    assert tally.last_at > earlier


def test_refusals_racing_for_the_days_first_tally_are_all_counted():
    tenant = TenantFactory()
    earlier = timezone.now() - timedelta(days=1)

    def other_refusal_first():  # another request created today's tally after our update
        WebhookRejection.objects.create(tenant=tenant, reason="bad_signature",
                                        day=timezone.now().date(), count=1, last_at=earlier)

    with connection.execute_wrapper(after_statement("UPDATE", REJECTION_TABLE,
                                                    other_refusal_first)):
        webhook_rejection_record(tenant=tenant, reason="bad_signature")
    tally = WebhookRejection.objects.get(tenant=tenant)
    assert tally.count == 2
    assert tally.last_at > earlier



def test_a_refusal_that_cannot_be_counted_is_logged_with_its_cause(caplog):
    tenant = TenantFactory()
    with connection.execute_wrapper(failing(REJECTION_TABLE,
                                            OperationalError("database is shutting down"))):
        webhook_rejection_record(tenant=tenant, reason="bad_signature")  # does not raise
    [record] = logged(caplog, logging.WARNING)
    assert record.getMessage() == (
        f"could not count a bad_signature rejection for tenant {tenant.slug}")
    assert record.exc_info and record.exc_info[0] is OperationalError

# --- the dedupe key ---------------------------------------------------------------------------

BODY = b'{"event":"x"}'


@pytest.mark.parametrize("event, obj, event_ts", [
    ("meeting.ended", {"uuid": ""}, 1),
    ("meeting.ended", {"uuid": 12345}, 1),
    ("user.updated", {"email": "ana@cust.example"}, 5),  # no id
    ("user.updated", {"id": ""}, 5),
    ("user.updated", {"id": True}, 5),
    ("user.updated", {"id": ["U1"]}, 5),
    ("user.updated", {"id": "U1"}, None),  # no event_ts: a later change could not be told apart
])
def test_dedupe_key_falls_back_to_the_body_hash_without_a_usable_identity(event, obj, event_ts):
    key = webhook_dedupe_key(event=event, payload={"object": obj}, event_ts=event_ts, body=BODY)
    assert key == f"{event}:sha256:{hashlib.sha256(BODY).hexdigest()}"


def test_dedupe_key_of_exactly_300_characters_is_kept():
    uuid = "u" * (300 - len("meeting.ended:"))
    key = webhook_dedupe_key(event="meeting.ended", payload={"object": {"uuid": uuid}},
                             event_ts=1, body=BODY)
    assert key == f"meeting.ended:{uuid}"
    assert len(key) == 300


def test_a_longer_dedupe_key_is_replaced_by_its_hash():
    uuid = "u" * (301 - len("meeting.ended:"))
    key = webhook_dedupe_key(event="meeting.ended", payload={"object": {"uuid": uuid}},
                             event_ts=1, body=BODY)
    long_key = f"meeting.ended:{uuid}"
    assert key == f"meeting.ended:sha256:{hashlib.sha256(long_key.encode()).hexdigest()}"
