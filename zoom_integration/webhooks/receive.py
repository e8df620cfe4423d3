"""Receiving a Zoom webhook: check, verify, store, acknowledge. No outbound call, no processing.

Owns, for `POST /zoom/event`, the checks in answer order: size (413), JSON envelope (400),
signature or legacy token and timestamp window (401), the `endpoint.url_validation` reply,
account id (401); then store first: one `ZoomWebhookDelivery` per (tenant, dedupe key), written
before the answer in one statement, so Zoom's retries and concurrent repeats become one row.
Refusals are only counted (`WebhookRejection`, per tenant, reason and day). The request never
talks to the broker: the stored row is the outbox entry a dispatcher queues (`outbox.py`), so a
slow or dead broker costs the answer nothing.

Zoom waits 3 seconds for the answer and retries a delivery that got none or a 5xx
(https://developers.zoom.us/docs/api/webhooks/#webhook-response-requirements), so nothing
here calls out over HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.conf import settings
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.db.models import F
from django.utils import timezone

from observability import hooks as observe
from tenants.models import Tenant

from ..models import WebhookRejection, ZoomConnection, ZoomWebhookDelivery
from ..zoom import ENDED_EVENTS, URL_VALIDATION
from .outbox import OUTBOX_CHANNEL, webhook_outbox_stored

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # a body over 1 MiB is answered 413 (no Zoom event comes near)
# Zoom's webhook envelope and headers:
# https://developers.zoom.us/docs/api/webhooks/#verify-webhook-events
URL_VALIDATION_EVENT = URL_VALIDATION
SIGNATURE_HEADER = "x-zm-signature"  # "v0=" + hex HMAC-SHA256 of "v0:{timestamp}:{body}"
TIMESTAMP_HEADER = "x-zm-request-timestamp"  # seconds since the epoch
# The legacy Verification Token comes raw in this header (apps made before the Secret Token).
LEGACY_TOKEN_HEADER = "authorization"  # noqa: S105
# Kept with each delivery for support; never `authorization` (the legacy token is a secret).
STORED_HEADERS = ("x-zm-request-timestamp", "x-zm-trackingid", "x-zm-signature", "clientid",
                  "user-agent", "content-type")
MAX_EVENT_LENGTH = 100  # ZoomWebhookDelivery.event
MAX_ACCOUNT_ID_LENGTH = 64  # ZoomWebhookDelivery.account_id
MAX_DEDUPE_KEY_LENGTH = 300  # ZoomWebhookDelivery.dedupe_key
MAX_PLAIN_TOKEN_LENGTH = 256
_TIMESTAMP_RE = re.compile(r"[0-9]{1,15}")
_BIGINT_MAX = 2**63 - 1


class Reason:
    """Why a delivery was refused: the `WebhookRejection.reason` values (not secrets)."""

    TOO_LARGE = "too_large"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NO_EVENT = "no_event"
    BAD_ENVELOPE = "bad_envelope"
    NO_SECRET_CONFIGURED = "no_secret_configured"  # noqa: S105
    MISSING_SIGNATURE = "missing_signature"
    MALFORMED_SIGNATURE = "malformed_signature"
    BAD_SIGNATURE = "bad_signature"
    MISSING_TIMESTAMP = "missing_timestamp"
    STALE_TIMESTAMP = "stale_timestamp"
    MISSING_TOKEN = "missing_token"  # noqa: S105
    BAD_TOKEN = "bad_token"  # noqa: S105
    VALIDATION_NEEDS_SECRET_TOKEN = "validation_needs_secret_token"  # noqa: S105
    BAD_PLAIN_TOKEN = "bad_plain_token"  # noqa: S105
    ACCOUNT_MISMATCH = "account_mismatch"

    DESCRIPTIONS = {
        TOO_LARGE: "Body over 1 MiB",
        NOT_UTF8: "Body not UTF-8",
        NOT_JSON: "Body not JSON",
        NO_EVENT: "No event type in the body",
        BAD_ENVELOPE: "Malformed envelope (event_ts, account_id or payload)",
        NO_SECRET_CONFIGURED: "Tenant has neither a Secret Token nor a Verification Token",
        MISSING_SIGNATURE: "No x-zm-signature header",
        MALFORMED_SIGNATURE: "x-zm-signature without the v0= prefix",
        BAD_SIGNATURE: "Signature does not match the Secret Token",
        MISSING_TIMESTAMP: "No or malformed x-zm-request-timestamp header",
        STALE_TIMESTAMP: "Timestamp outside the accepted window",
        MISSING_TOKEN: "No authorization header (legacy Verification Token)",
        BAD_TOKEN: "authorization header does not match the Verification Token",
        VALIDATION_NEEDS_SECRET_TOKEN: "URL validation needs a Secret Token",
        BAD_PLAIN_TOKEN: "URL validation without a usable plainToken",
        ACCOUNT_MISMATCH: "payload.account_id is not the tenant's Zoom account",
    }


@dataclass(frozen=True)
class WebhookAnswer:
    """What the view answers: the status, and a JSON body when there is one."""

    status: int
    json: dict[str, Any] | None = None
    reason: str = ""
    delivery_id: int | None = None
    duplicate: bool = False


class _Refused(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


# --- Checks -------------------------------------------------------------------------------------

@dataclass
class _Envelope:
    event: str
    event_ts: int | None
    account_id: str
    payload: dict[str, Any]
    data: dict[str, Any] = field(repr=False)


@observe.webhook_receive_observed
def webhook_receive(*, tenant: Tenant, body: bytes | None, headers: Mapping[str, str],
                    remote_addr: str | None = None) -> WebhookAnswer:
    """Checks, verifies and stores one delivery; `body` None means it was over the size limit.

    The answer is decided before any processing: 200 once the delivery is stored (or already
    was), 503 when it could not be stored so that Zoom retries (Zoom retries a delivery that
    got a 5xx or no answer).
    """
    headers = {str(k).lower(): v for k, v in headers.items()}
    try:
        if body is None or len(body) > MAX_BODY_BYTES:
            raise _Refused(413, Reason.TOO_LARGE)
        text, envelope = _envelope_parse(body)
        reason = webhook_signature_verify(tenant=tenant, body=body, headers=headers)
        if reason:
            raise _Refused(401, reason)
        if envelope.event == URL_VALIDATION_EVENT:
            return _url_validation_answer(tenant=tenant, envelope=envelope)
        # Every event names the account in `payload.account_id`; a private app is installed on
        # exactly one account, so any other account id is not for this tenant.
        if tenant.zoom_account_id and not hmac.compare_digest(
                envelope.account_id.encode(), tenant.zoom_account_id.encode()):
            raise _Refused(401, Reason.ACCOUNT_MISMATCH)
    except _Refused as refused:
        webhook_rejection_record(tenant=tenant, reason=refused.reason)
        logger.info("webhook refused for tenant %s: %s", tenant.slug, refused.reason)
        return WebhookAnswer(refused.status, {"error": refused.reason}, reason=refused.reason)
    return _delivery_store(tenant=tenant, envelope=envelope, text=text, headers=headers,
                           remote_addr=remote_addr, body=body)


def _envelope_parse(body: bytes) -> tuple[str, _Envelope]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused(400, Reason.NOT_UTF8) from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise _Refused(400, Reason.NOT_JSON) from None
    if not isinstance(data, dict) or not isinstance(data.get("event"), str) or not data["event"]:
        raise _Refused(400, Reason.NO_EVENT)
    if "\\u0000" in text.lower():
        # A NUL character (only reachable as the JSON escape) cannot be stored in PostgreSQL
        # text; Zoom never sends one. Refusing it here keeps it from becoming a 503 that Zoom
        # would retry forever.
        raise _Refused(400, Reason.BAD_ENVELOPE)
    event = data["event"]
    payload = data.get("payload", {})
    if payload is None:
        payload = {}
    account_id = payload.get("account_id", "") if isinstance(payload, dict) else None
    if (len(event) > MAX_EVENT_LENGTH or not isinstance(payload, dict)
            or not isinstance(account_id, str) or len(account_id) > MAX_ACCOUNT_ID_LENGTH):
        raise _Refused(400, Reason.BAD_ENVELOPE)
    # `event_ts` (milliseconds) is top-level, except for app_deauthorized where it sits in
    # the payload.
    event_ts = data.get("event_ts", payload.get("event_ts"))
    if event_ts is not None and (isinstance(event_ts, bool) or not isinstance(event_ts, int)
                                 or not 0 <= event_ts <= _BIGINT_MAX):
        raise _Refused(400, Reason.BAD_ENVELOPE)
    return text, _Envelope(event=event, event_ts=event_ts, account_id=account_id,
                           payload=payload, data=data)


def webhook_signature_verify(*, tenant: Tenant, body: bytes, headers: Mapping[str, str],
                             now: float | None = None) -> str | None:
    """None when the delivery is Zoom's, else the refusal reason.

    Zoom's scheme: https://developers.zoom.us/docs/api/webhooks/#verify-webhook-events.

    Over the raw body bytes as received: re-serialising breaks on spacing and non-ASCII text.
    `headers` has lower-case names. With a Secret Token the signature and a fresh timestamp are
    required; a tenant with only the legacy Verification Token is checked against the
    `authorization` header; a tenant with neither is refused.
    """
    secret_token = tenant.secret_token
    if not secret_token:
        token = tenant.verification_token
        if not token:
            return Reason.NO_SECRET_CONFIGURED
        sent = headers.get(LEGACY_TOKEN_HEADER)
        if not sent:
            return Reason.MISSING_TOKEN
        if not hmac.compare_digest(_header_bytes(sent), token.encode()):
            return Reason.BAD_TOKEN
        return None

    signature = headers.get(SIGNATURE_HEADER)
    if not signature:
        return Reason.MISSING_SIGNATURE
    if not signature.startswith("v0="):
        return Reason.MALFORMED_SIGNATURE
    timestamp = (headers.get(TIMESTAMP_HEADER) or "").strip()
    if not _TIMESTAMP_RE.fullmatch(timestamp):
        return Reason.MISSING_TIMESTAMP
    message = b"v0:" + timestamp.encode("ascii") + b":" + body
    expected = "v0=" + hmac.new(secret_token.encode(), message, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(_header_bytes(signature), expected.encode("ascii")):
        return Reason.BAD_SIGNATURE
    # Checked after the signature, so the timestamp itself is known to be Zoom's. Both
    # directions: a clock ahead of ours is as suspect as a replay.
    skew = abs((time.time() if now is None else now) - int(timestamp))
    if skew > settings.ZOOM_WEBHOOK_MAX_SKEW_SECONDS:
        return Reason.STALE_TIMESTAMP
    return None


def _header_bytes(value: str) -> bytes:
    # WSGI hands header values over as latin-1 decoded text; compare the bytes that came.
    return value.encode("latin-1", errors="replace")


def webhook_url_validation_token(*, secret_token: str, plain_token: str) -> str:
    """Lowercase hex HMAC-SHA256 of plainToken keyed by the Secret Token: the answer Zoom
    expects to its endpoint check
    (https://developers.zoom.us/docs/api/webhooks/#validate-your-webhook-endpoint)."""
    return hmac.new(secret_token.encode(), plain_token.encode(), hashlib.sha256).hexdigest()


def _url_validation_answer(*, tenant: Tenant, envelope: _Envelope) -> WebhookAnswer:
    if not tenant.secret_token:
        raise _Refused(401, Reason.VALIDATION_NEEDS_SECRET_TOKEN)
    plain_token = envelope.payload.get("plainToken")
    if (not isinstance(plain_token, str) or not plain_token
            or len(plain_token) > MAX_PLAIN_TOKEN_LENGTH):
        raise _Refused(400, Reason.BAD_PLAIN_TOKEN)
    encrypted = webhook_url_validation_token(secret_token=tenant.secret_token,
                                             plain_token=plain_token)
    connection_endpoint_validated(tenant=tenant)
    return WebhookAnswer(200, {"plainToken": plain_token, "encryptedToken": encrypted})


def connection_endpoint_validated(*, tenant: Tenant) -> None:
    """Records that Zoom validated the tenant's endpoint just now (admin shows it).

    Only `endpoint_validated_at` is written; the connection row is created if missing. Written
    with UPDATE rather than a loaded instance so the encrypted token fields are never decrypted
    here. A database failure does not spoil the answer Zoom is waiting for.
    """
    now = timezone.now()
    try:
        if ZoomConnection.objects.filter(tenant=tenant).update(endpoint_validated_at=now):
            return
        try:
            with transaction.atomic():
                ZoomConnection.objects.create(tenant=tenant, endpoint_validated_at=now)
        except IntegrityError:  # created concurrently
            ZoomConnection.objects.filter(tenant=tenant).update(endpoint_validated_at=now)
    except DatabaseError:
        logger.warning("could not record the endpoint validation of tenant %s", tenant.slug,
                       exc_info=True)


def webhook_rejection_record(*, tenant: Tenant, reason: str) -> None:
    """Counts one refused delivery for the tenant, reason and day (UTC); bodies are not kept."""
    now = timezone.now()
    tally = WebhookRejection.objects.filter(tenant=tenant, reason=reason, day=now.date())
    try:
        if tally.update(count=F("count") + 1, last_at=now):
            return
        try:
            with transaction.atomic():
                WebhookRejection.objects.create(tenant=tenant, reason=reason, day=now.date(),
                                                count=1, last_at=now)
        except IntegrityError:  # the day's first refusals arrived together
            tally.update(count=F("count") + 1, last_at=now)
    except DatabaseError:
        logger.warning("could not count a %s rejection for tenant %s", reason, tenant.slug,
                       exc_info=True)


def webhook_dedupe_key(*, event: str, payload: Mapping[str, Any], event_ts: int | None,
                       body: bytes) -> str:
    """Event plus the object's identity: what makes two deliveries the same event.

    Zoom sends no event id. meeting.ended and webinar.ended: the instance `uuid` (a rejoin
    ends again with a new uuid). user.*: the user `id` plus `event_ts` (the same user
    changes many times). Anything else, or a body missing those fields: a hash of the body,
    which Zoom's retries repeat byte for byte.
    """
    obj = payload.get("object")
    obj = obj if isinstance(obj, Mapping) else {}
    key = None
    if event in ENDED_EVENTS:
        uuid = obj.get("uuid")
        if isinstance(uuid, str) and uuid:
            key = f"{event}:{uuid}"
    elif event.startswith("user."):
        user_id = obj.get("id")
        if isinstance(user_id, str | int) and not isinstance(user_id, bool) and user_id != "" \
                and event_ts is not None:
            key = f"{event}:{user_id}:{event_ts}"
    if key is None:
        key = f"{event}:sha256:{hashlib.sha256(body).hexdigest()}"
    if len(key) > MAX_DEDUPE_KEY_LENGTH:
        key = f"{event}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"
    return key


def _remote_addr(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:
        return None


# One statement per new delivery: the row (with every NOT NULL column, as the model's defaults
# would fill it), nothing on a duplicate, and the outbox's wake-up call, sent by PostgreSQL only
# when the row commits. In autocommit that is one round trip, with no BEGIN or COMMIT. The
# times come from the application's clock, like every other time the portal compares them with.
_INSERT_SQL = (
    "WITH stored AS (INSERT INTO {table} (tenant_id, event, event_ts, account_id, dedupe_key,"
    " body, headers, remote_addr, received_at, status, due_at, sweeps, attempts, duplicates,"
    " last_error, traceback)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, 'pending', %s, 0, 0, 0, '', '')"
    " ON CONFLICT (tenant_id, dedupe_key) DO NOTHING RETURNING id)"
    " SELECT id, pg_notify(%s, '') FROM stored")


def _insert_returning_id(*, tenant: Tenant, envelope: _Envelope, key: str, text: str,
                         headers: dict, remote_addr: str | None) -> tuple | None:
    """PostgreSQL: the one statement above; (id,) for a new row, None for a duplicate."""
    sql = _INSERT_SQL.format(table=connection.ops.quote_name(ZoomWebhookDelivery._meta.db_table))
    now = timezone.now()
    params = [tenant.pk, envelope.event, envelope.event_ts, envelope.account_id, key, text,
              json.dumps(headers), _remote_addr(remote_addr), now, now, OUTBOX_CHANNEL]
    # Values are bounded by the checks above. A duplicate (Zoom's retry, or a concurrent copy:
    # PostgreSQL makes this insert wait for it to commit) returns no row. (Inside a caller's
    # transaction, a savepoint keeps a failure from spoiling it.)
    if connection.in_atomic_block:
        with transaction.atomic():
            return _execute_fetchone(sql, params)
    # On the request path the insert is the delivery's only statement: rather than Django's
    # per-request health check (a "SELECT 1" round trip before it, CONN_HEALTH_CHECKS), use the
    # persistent connection at once, and if it died since its last use (a database restart),
    # open a new one and send the insert again. Sending it twice is safe: a first copy that
    # did commit makes the second a duplicate.
    connection.health_check_done = True
    try:
        return _execute_fetchone(sql, params)
    except (InterfaceError, OperationalError):
        if connection.is_usable():
            raise  # the database refused the statement itself: not a dead connection
        logger.warning("webhook store: the database connection had closed; reconnecting")
        connection.close()
        return _execute_fetchone(sql, params)


def _execute_fetchone(sql: str, params: list) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _insert_portable(*, tenant: Tenant, envelope: _Envelope, key: str, text: str,
                     headers: dict, remote_addr: str | None) -> tuple | None:
    """Other databases (the SQLite of `make run`): the same row through the ORM, None for a
    duplicate. No NOTIFY there: the dispatcher polls instead."""
    if ZoomWebhookDelivery.objects.filter(tenant=tenant, dedupe_key=key).exists():
        return None
    now = timezone.now()
    try:
        with transaction.atomic():
            delivery = ZoomWebhookDelivery.objects.create(
                tenant=tenant, event=envelope.event, event_ts=envelope.event_ts,
                account_id=envelope.account_id, dedupe_key=key, body=text, headers=headers,
                remote_addr=_remote_addr(remote_addr), due_at=now)
    except IntegrityError:
        if ZoomWebhookDelivery.objects.filter(tenant=tenant, dedupe_key=key).exists():
            return None  # a concurrent copy won the race
        raise
    return (delivery.pk,)


def _delivery_store(*, tenant: Tenant, envelope: _Envelope, text: str, body: bytes,
                    headers: Mapping[str, str], remote_addr: str | None) -> WebhookAnswer:
    key = webhook_dedupe_key(event=envelope.event, payload=envelope.payload,
                             event_ts=envelope.event_ts, body=body)
    kept_headers = {name: headers[name][:500] for name in STORED_HEADERS if name in headers}
    try:
        if connection.vendor == "postgresql":
            row = _insert_returning_id(tenant=tenant, envelope=envelope, key=key, text=text,
                                       headers=kept_headers, remote_addr=remote_addr)
        else:
            row = _insert_portable(tenant=tenant, envelope=envelope, key=key, text=text,
                                   headers=kept_headers, remote_addr=remote_addr)
        if row is not None:
            # Eager mode processes it here once committed; with a broker this does nothing.
            transaction.on_commit(partial(webhook_outbox_stored, delivery_id=row[0]))
            return WebhookAnswer(200, delivery_id=row[0])
        counted = (ZoomWebhookDelivery.objects.filter(tenant=tenant, dedupe_key=key)
                   .update(duplicates=F("duplicates") + 1))
    except IntegrityError:  # e.g. the tenant was deleted since it was looked up
        logger.error("webhook for tenant %s not stored: integrity error", tenant.slug)
        return WebhookAnswer(503, {"error": "not stored"}, reason="not_stored")
    except DatabaseError:
        logger.error("webhook for tenant %s not stored: database unavailable", tenant.slug,
                     exc_info=True)
        return WebhookAnswer(503, {"error": "not stored"}, reason="not_stored")
    if not counted:  # the row went away between the conflict and the count: let Zoom retry
        logger.error("webhook for tenant %s not stored: duplicate vanished", tenant.slug)
        return WebhookAnswer(503, {"error": "not stored"}, reason="not_stored")
    return WebhookAnswer(200, duplicate=True)
