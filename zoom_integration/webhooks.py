"""Zoom webhooks: receive (check, verify, store, acknowledge) and process stored deliveries.

Owns, for `POST /zoom/event` (CONTRACT.md; zoom-api-reference.md §2):
- the checks in answer order: size (413), JSON envelope (400), signature or legacy token and
  timestamp window (401), `endpoint.url_validation` reply, account id (401);
- store first: one `ZoomWebhookDelivery` per (tenant, dedupe key), written before the answer,
  so Zoom's retries and concurrent repeats become one row; refusals only counted
  (`WebhookRejection`, per tenant, reason and day);
- the time-bounded enqueue after commit (a dead broker never holds the answer), the sweeper that
  queues deliveries whose message was lost, and the processing with its dispatch table.

Nothing here makes an outbound HTTP call: Zoom waits 3 seconds for the answer (§2.3).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import os
import random
import re
import threading
import time
import traceback as traceback_module
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone

from observability import hooks as observe
from tenants.models import Tenant

from .exceptions import ZoomRateLimitedError, ZoomTransientError
from .models import DeliveryStatus, WebhookRejection, ZoomConnection, ZoomWebhookDelivery

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # CONTRACT.md: a body over 1 MiB is answered 413
URL_VALIDATION_EVENT = "endpoint.url_validation"  # zoom-api-reference.md §2.1
SIGNATURE_HEADER = "x-zm-signature"  # §2.2
TIMESTAMP_HEADER = "x-zm-request-timestamp"  # §2.2, seconds
LEGACY_TOKEN_HEADER = "authorization"  # noqa: S105  §2.2: the legacy verification token, raw
# Kept with each delivery for support; never `authorization` (the legacy token is a secret).
STORED_HEADERS = ("x-zm-request-timestamp", "x-zm-trackingid", "x-zm-signature", "clientid",
                  "user-agent", "content-type")
MAX_EVENT_LENGTH = 100  # ZoomWebhookDelivery.event
MAX_ACCOUNT_ID_LENGTH = 64  # ZoomWebhookDelivery.account_id
MAX_DEDUPE_KEY_LENGTH = 300  # ZoomWebhookDelivery.dedupe_key
MAX_PLAIN_TOKEN_LENGTH = 256
_TIMESTAMP_RE = re.compile(r"[0-9]{1,15}")
_BIGINT_MAX = 2**63 - 1

# Processing: attempts before a delivery is parked as failed, and the backoff between them.
MAX_ATTEMPTS = 5
RETRY_BASE_SECONDS = 60
RETRY_MAX_SECONDS = 30 * 60
# A delivery left "processing" this long belongs to a worker that died: take it up again. It
# exceeds the processing task's hard time limit (tasks/webhooks.py).
PROCESSING_LEASE = timedelta(minutes=5)
SWEEP_BATCH = 1000
SWEEP_BACKOFF_MAX = timedelta(hours=1)

# Enqueue bounds: Zoom gives 3 s for the answer, so a slow or dead broker gets at most this long
# per request, and after a failure requests skip the broker for a while (the sweeper queues
# those deliveries once it answers again).
ENQUEUE_WAIT_SECONDS = 0.5
ENQUEUE_PAUSE_SECONDS = 5.0
BROKER_CONNECT_TIMEOUT_SECONDS = 0.5
BROKER_SOCKET_TIMEOUT_SECONDS = 1.0


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
        NO_EVENT: "No `event` in the body",
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


class WebhookRetryLater(Exception):
    """Processing hit a transient error: the task should run again after `countdown` seconds."""

    def __init__(self, countdown: float, message: str = ""):
        super().__init__(message or f"retry in {countdown:.0f} s")
        self.countdown = countdown


# --- Receiving ---------------------------------------------------------------------------------

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
    was), 503 when it could not be stored so that Zoom retries (§2.3).
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
        # §2.4: every event names the account; a private app is installed on one account.
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
    # §2.4: `event_ts` is top-level, except for app_deauthorized where it sits in payload.
    event_ts = data.get("event_ts", payload.get("event_ts"))
    if event_ts is not None and (isinstance(event_ts, bool) or not isinstance(event_ts, int)
                                 or not 0 <= event_ts <= _BIGINT_MAX):
        raise _Refused(400, Reason.BAD_ENVELOPE)
    return text, _Envelope(event=event, event_ts=event_ts, account_id=account_id,
                           payload=payload, data=data)


def webhook_signature_verify(*, tenant: Tenant, body: bytes, headers: Mapping[str, str],
                             now: float | None = None) -> str | None:
    """None when the delivery is Zoom's, else the refusal reason (zoom-api-reference.md §2.2).

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
    # directions: a clock ahead of ours is as suspect as a replay (CONTRACT.md).
    skew = abs((time.time() if now is None else now) - int(timestamp))
    if skew > settings.ZOOM_WEBHOOK_MAX_SKEW_SECONDS:
        return Reason.STALE_TIMESTAMP
    return None


def _header_bytes(value: str) -> bytes:
    # WSGI hands header values over as latin-1 decoded text; compare the bytes that came.
    return value.encode("latin-1", errors="replace")


def webhook_url_validation_token(*, secret_token: str, plain_token: str) -> str:
    """§2.1: lowercase hex HMAC-SHA256 of plainToken keyed by the Secret Token."""
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
    """Event plus the object's identity (zoom-api-reference.md §2.3).

    Zoom sends no event id. meeting.ended and webinar.ended: the instance `uuid` (a rejoin
    ends again with a new uuid, §2.3). user.*: the user `id` plus `event_ts` (the same user
    changes many times). Anything else, or a body missing those fields: a hash of the body,
    which Zoom's retries repeat byte for byte.
    """
    obj = payload.get("object")
    obj = obj if isinstance(obj, Mapping) else {}
    key = None
    if event in ("meeting.ended", "webinar.ended"):
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


def _delivery_store(*, tenant: Tenant, envelope: _Envelope, text: str, body: bytes,
                    headers: Mapping[str, str], remote_addr: str | None) -> WebhookAnswer:
    key = webhook_dedupe_key(event=envelope.event, payload=envelope.payload,
                             event_ts=envelope.event_ts, body=body)
    kept_headers = {name: headers[name][:500] for name in STORED_HEADERS if name in headers}
    try:
        # Values are bounded by the checks above; no full_clean(): its uniqueness query would
        # only race with the constraint that decides duplicates anyway.
        with transaction.atomic():
            delivery = ZoomWebhookDelivery.objects.create(
                tenant=tenant, event=envelope.event, event_ts=envelope.event_ts,
                account_id=envelope.account_id, dedupe_key=key, body=text, headers=kept_headers,
                remote_addr=_remote_addr(remote_addr), status=DeliveryStatus.PENDING)
            transaction.on_commit(partial(webhook_delivery_enqueue, delivery_id=delivery.pk))
    except IntegrityError:
        # One row per (tenant, dedupe key): Zoom's retry, or a concurrent copy that committed
        # first (PostgreSQL makes this insert wait for it, then fail).
        try:
            counted = (ZoomWebhookDelivery.objects.filter(tenant=tenant, dedupe_key=key)
                       .update(duplicates=F("duplicates") + 1))
        except DatabaseError:
            logger.warning("could not count a duplicate for tenant %s", tenant.slug,
                           exc_info=True)
            counted = 1  # the row exists (that is what failed the insert)
        if not counted:  # not a duplicate after all (e.g. the tenant was just deleted)
            logger.error("webhook for tenant %s not stored: integrity error", tenant.slug)
            return WebhookAnswer(503, {"error": "not stored"}, reason="not_stored")
        return WebhookAnswer(200, duplicate=True)
    except DatabaseError:
        logger.error("webhook for tenant %s not stored: database unavailable", tenant.slug,
                     exc_info=True)
        return WebhookAnswer(503, {"error": "not stored"}, reason="not_stored")
    return WebhookAnswer(200, delivery_id=delivery.pk)


# --- Enqueueing --------------------------------------------------------------------------------

class _BoundedPublisher:
    """Publishes task messages from a small thread pool and waits a bounded time for each.

    Celery's `retry=False` alone does not bound a publish: kombu retries a refused connection
    after 2 s, and a hung broker holds a socket until its timeout. So the request thread waits
    at most ENQUEUE_WAIT_SECONDS and moves on; the publishing thread finishes or fails on its
    own (its connection has short socket timeouts and no connect retries), and either way the
    delivery is safe in the database. After a failure, publishing pauses briefly so a dead
    broker costs one wait, not one per request.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self.paused_until = 0.0

    def _executor_get(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None or self._pid != os.getpid():  # new after a fork
                self._executor = ThreadPoolExecutor(max_workers=2,
                                                    thread_name_prefix="webhook-enqueue")
                self._pid = os.getpid()
            return self._executor

    def _connection(self, app):
        url = app.conf.broker_write_url or app.conf.broker_url
        cached = getattr(self._local, "connection", None)
        if cached is not None and self._local.url == url:
            return cached
        if cached is not None:
            cached.release()
        # max_retries 0: kombu would otherwise retry a refused connection after 2 s.
        options = {"socket_connect_timeout": BROKER_CONNECT_TIMEOUT_SECONDS,
                   "socket_timeout": BROKER_SOCKET_TIMEOUT_SECONDS, "max_retries": 0}
        connection = app.connection_for_write(url, connect_timeout=BROKER_CONNECT_TIMEOUT_SECONDS,
                                              transport_options=options)
        self._local.connection, self._local.url = connection, url
        return connection

    def _send(self, task, kwargs: dict[str, Any]) -> None:
        connection = self._connection(task.app)
        try:
            task.apply_async(kwargs=kwargs, connection=connection, retry=False)
        except Exception:
            connection.release()
            self._local.connection = None
            raise

    def publish(self, task, **kwargs: Any) -> bool:
        if time.monotonic() < self.paused_until:
            return False
        future = self._executor_get().submit(self._send, task, kwargs)
        try:
            future.result(timeout=ENQUEUE_WAIT_SECONDS)
            return True
        except TimeoutError:
            logger.warning("broker did not take %s within %.1f s; left for the sweeper",
                           task.name, ENQUEUE_WAIT_SECONDS)
        except Exception as exc:
            logger.warning("broker refused %s (%s: %s); left for the sweeper", task.name,
                           type(exc).__name__, exc)
        self.paused_until = time.monotonic() + ENQUEUE_PAUSE_SECONDS
        return False

    def resume(self) -> None:
        """Forgets a failure now (tests, and after an operator fixed the broker)."""
        self.paused_until = 0.0


_publisher = _BoundedPublisher()


def webhook_delivery_enqueue(*, delivery_id: int) -> bool:
    """Queues processing of one stored delivery; False when the broker did not take it in time.

    Never raises: the delivery stays pending and `webhook_pending_sweep` queues it later.
    """
    from .tasks.webhooks import webhook_delivery_process_task

    if webhook_delivery_process_task.app.conf.task_always_eager:
        # Eager (unit tests, no broker): runs here and now, in this thread and transaction.
        try:
            webhook_delivery_process_task.apply_async(kwargs={"delivery_id": delivery_id})
        except Exception:
            logger.exception("eager processing of delivery %s failed", delivery_id)
            return False
        return True
    return _publisher.publish(webhook_delivery_process_task, delivery_id=delivery_id)


def webhook_pending_sweep(*, older_than_seconds: int = 60) -> int:
    """Queues deliveries whose queue message was lost; returns how many it queued.

    Pending deliveries due more than `older_than_seconds` ago (the broker was down when they
    arrived, or a retry message was lost), and deliveries stuck "processing" past the lease (the
    worker died). A delivery swept before waits twice as long before the next sweep (up to
    SWEEP_BACKOFF_MAX): while the worker is away its message is still queued, and re-queueing
    every delivery every minute would pile copies up. Processing is claimed atomically, so a
    copy that arrives late does nothing.
    """
    now = timezone.now()
    cutoff = now - timedelta(seconds=older_than_seconds)
    stale = (Q(status=DeliveryStatus.PENDING, due_at__lt=cutoff)
             | Q(status=DeliveryStatus.PROCESSING, due_at__lt=cutoff,
                 started_at__lt=now - PROCESSING_LEASE))
    rows = list(ZoomWebhookDelivery.objects.filter(stale).order_by("due_at")
                .values_list("pk", "due_at", "sweeps")[:SWEEP_BATCH])
    queued = 0
    for delivery_id, due_at, sweeps in rows:
        wait = min(timedelta(seconds=older_than_seconds) * (2 ** min(sweeps, 16) - 1),
                   SWEEP_BACKOFF_MAX)
        row = ZoomWebhookDelivery.objects.filter(pk=delivery_id)
        row.update(due_at=now + wait, sweeps=F("sweeps") + 1)
        if not webhook_delivery_enqueue(delivery_id=delivery_id):
            # The broker is away: nothing was queued, so this sweep does not count.
            row.filter(status=DeliveryStatus.PENDING).update(due_at=due_at, sweeps=sweeps)
            break
        queued += 1
    if rows:
        logger.info("webhook sweep queued %d of %d stale deliveries", queued, len(rows))
    return queued


def webhook_deliveries_requeue(*, delivery_ids: list[int] | None = None,
                               failed: bool = False) -> list[int]:
    """Marks deliveries pending again (admin "Process again", `webhook_reprocess`).

    Selected by id, or every failed one. Deliveries being processed right now are left alone.
    Returns the ids made pending; the caller processes or queues them.
    """
    deliveries = ZoomWebhookDelivery.objects.exclude(status=DeliveryStatus.PROCESSING)
    if delivery_ids is not None:
        deliveries = deliveries.filter(pk__in=delivery_ids)
    if failed:
        deliveries = deliveries.filter(status=DeliveryStatus.FAILED)
    ids = list(deliveries.values_list("pk", flat=True))
    if ids:
        # A fresh run gets a fresh budget of attempts.
        ZoomWebhookDelivery.objects.filter(pk__in=ids).exclude(
            status=DeliveryStatus.PROCESSING).update(
                status=DeliveryStatus.PENDING, attempts=0, sweeps=0, due_at=timezone.now())
    return ids


# --- Processing --------------------------------------------------------------------------------

def _payload(envelope: Mapping[str, Any]) -> dict[str, Any]:
    payload = envelope.get("payload")
    return payload if isinstance(payload, dict) else {}


def _event_ts(envelope: Mapping[str, Any]) -> int | None:
    value = envelope.get("event_ts", _payload(envelope).get("event_ts"))
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _user_event(*, tenant: Tenant, event: str, envelope: Mapping[str, Any]) -> None:
    # user.updated carries a partial patch and maybe `old_object` (§2.4): the directory decides.
    from .directory import zoom_user_event_apply

    zoom_user_event_apply(tenant=tenant, event=event, payload=_payload(envelope),
                          event_ts=_event_ts(envelope))


def _meeting_ended(*, tenant: Tenant, event: str, envelope: Mapping[str, Any]) -> None:
    from .metrics import meeting_ended_record

    meeting_ended_record(tenant=tenant, kind="meeting", payload=_payload(envelope))


def _webinar_ended(*, tenant: Tenant, event: str, envelope: Mapping[str, Any]) -> None:
    from .metrics import meeting_ended_record

    meeting_ended_record(tenant=tenant, kind="webinar", payload=_payload(envelope))


def _app_deauthorized(*, tenant: Tenant, event: str, envelope: Mapping[str, Any]) -> None:
    from .oauth import connection_deauthorize

    connection_deauthorize(tenant=tenant, payload=_payload(envelope))


# Event type → handler. Any other event is stored and marked ignored.
WEBHOOK_HANDLERS: dict[str, Callable[..., None]] = {
    "user.created": _user_event,
    "user.updated": _user_event,
    "user.deleted": _user_event,
    "meeting.ended": _meeting_ended,
    "webinar.ended": _webinar_ended,
    "app_deauthorized": _app_deauthorized,
}

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ZoomTransientError, ZoomRateLimitedError, OperationalError, InterfaceError,
    ConnectionError, TimeoutError,
)


class _LeaseLost(Exception):
    """Another worker took the delivery over (our lease expired): our work is rolled back."""


def _retry_countdown(attempts: int, exc: BaseException) -> float:
    countdown = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0))
    countdown *= random.uniform(0.8, 1.2)  # spread a burst of failures
    if isinstance(exc, ZoomRateLimitedError):
        countdown = max(countdown, exc.retry_after_seconds)
    return countdown


@observe.webhook_process_observed
def webhook_delivery_process(*, delivery_id: int) -> None:
    """Processes one stored delivery at most once at a time, and to completion once.

    Idempotent and race-safe: a conditional UPDATE claims the delivery (pending, or processing
    past its lease), so concurrent or repeated calls do nothing. The handler's writes and the
    "processed" mark commit together. Transient errors raise `WebhookRetryLater` (the task
    retries with backoff) until MAX_ATTEMPTS; other errors, and the last attempt, park the
    delivery as failed with the error and traceback kept. Unknown event types: ignored.
    """
    started = timezone.now()
    claimed = (ZoomWebhookDelivery.objects.filter(pk=delivery_id)
               .filter(Q(status=DeliveryStatus.PENDING)
                       | Q(status=DeliveryStatus.PROCESSING,
                           started_at__lt=started - PROCESSING_LEASE))
               .update(status=DeliveryStatus.PROCESSING, started_at=started,
                       attempts=F("attempts") + 1))
    if not claimed:
        logger.debug("delivery %s: not pending, nothing to do", delivery_id)
        return
    delivery = ZoomWebhookDelivery.objects.select_related("tenant").get(pk=delivery_id)
    ours = ZoomWebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PROCESSING,
                                              started_at=started)
    handler = WEBHOOK_HANDLERS.get(delivery.event)
    if handler is None:
        ours.update(status=DeliveryStatus.IGNORED, processed_at=timezone.now(), last_error="",
                    traceback="")
        return

    committed: list[bool] = []
    try:
        with transaction.atomic():
            transaction.on_commit(lambda: committed.append(True))
            handler(tenant=delivery.tenant, event=delivery.event,
                    envelope=json.loads(delivery.body))
            if not ours.update(status=DeliveryStatus.PROCESSED, processed_at=timezone.now(),
                               last_error="", traceback=""):
                raise _LeaseLost()
    except _LeaseLost:
        logger.warning("delivery %s was taken over by another worker; rolled back", delivery_id)
    except Exception as exc:
        if committed:
            # The work and the "processed" mark are committed; a hook run after the commit
            # (e.g. a handler's own enqueue) failed. Not a reason to process again.
            logger.exception("delivery %s processed; a hook after the commit failed",
                             delivery_id)
            return
        _delivery_failure(delivery=delivery, ours=ours, exc=exc)


def _delivery_failure(*, delivery: ZoomWebhookDelivery, ours, exc: Exception) -> None:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    trace = "".join(traceback_module.format_exception(exc))[-20000:]
    if isinstance(exc, TRANSIENT_ERRORS) and delivery.attempts < MAX_ATTEMPTS:
        countdown = _retry_countdown(delivery.attempts, exc)
        ours.update(status=DeliveryStatus.PENDING, last_error=error, traceback=trace,
                    due_at=timezone.now() + timedelta(seconds=countdown))
        logger.warning("delivery %s (%s) attempt %d failed, retry in %.0f s: %s", delivery.pk,
                       delivery.event, delivery.attempts, countdown, error)
        raise WebhookRetryLater(countdown, error) from exc
    ours.update(status=DeliveryStatus.FAILED, last_error=error, traceback=trace)
    logger.error("delivery %s (%s) failed after %d attempt(s): %s", delivery.pk, delivery.event,
                 delivery.attempts, error)
