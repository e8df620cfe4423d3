"""The one-line instrumentation points in the Zoom code: each records into `metrics.py`.

Each hook is either a decorator placed on a service (`@hooks.webhook_receive_observed`) or one
call at the place a fact becomes known (a Zoom answer, a token refresh's result). They never
raise: a metrics or logging problem must not fail the work being measured, so each logs at
DEBUG and carries on. Where the decorated service's return value does not say what happened
(webhook processing), the hook reads the row before and after: two primary-key lookups, small
next to the work measured.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from . import context
from . import metrics as m

logger = logging.getLogger(__name__)

# Zoom's answer for a call whose scope the app lacks: HTTP 400 with this code in the body.
ZOOM_CODE_MISSING_SCOPE = 4711


def _quietly(func: Callable[..., Any], **kwargs: Any) -> None:
    try:
        func(**kwargs)
    except Exception:  # noqa: BLE001 - measuring must never break the measured code
        logger.debug("observability hook %s failed", func.__name__, exc_info=True)


# --- Webhooks --------------------------------------------------------------------------------

def webhook_receive_observed(receive: Callable[..., Any]) -> Callable[..., Any]:
    """Counts each answer of `webhook_receive(*, tenant, ...)`: accepted, stored or refused.

    Refusals are counted, not logged with their bodies: a burst of bad deliveries costs a counter
    increment each (the receiver logs one short line per refusal, without the body).
    """

    @functools.wraps(receive)
    def wrapper(*args: Any, **kwargs: Any):
        answer = receive(*args, **kwargs)
        _quietly(m.webhook_answer_observe, tenant=kwargs.get("tenant"),
                 status=getattr(answer, "status", 0), reason=getattr(answer, "reason", ""),
                 stored=getattr(answer, "delivery_id", None) is not None)
        return answer

    return wrapper


def _delivery_row(delivery_id: int, *fields: str) -> tuple | None:
    from zoom_integration.models import ZoomWebhookDelivery

    try:
        return ZoomWebhookDelivery.objects.filter(pk=delivery_id).values_list(*fields).first()
    except Exception:  # noqa: BLE001 - e.g. the database is away: processing will say so
        logger.debug("could not read delivery %s for metrics", delivery_id, exc_info=True)
        return None


def webhook_process_observed(process: Callable[..., Any]) -> Callable[..., Any]:
    """Counts each processing of `webhook_delivery_process(*, delivery_id)` by its outcome.

    A call that did not claim the delivery (already done, or another worker holds it) leaves
    `attempts` unchanged and is not counted. While it runs, log lines carry the delivery's
    tenant and Zoom tracking id.
    """

    @functools.wraps(process)
    def wrapper(*args: Any, delivery_id: int, **kwargs: Any):
        before = _delivery_row(delivery_id, "tenant__slug", "attempts", "headers")
        slug, attempts, headers = before if before else (None, None, {})
        tracking = (headers or {}).get(context.ZOOM_TRACKING_HEADER) if isinstance(
            headers, dict) else None
        raised: BaseException | None = None
        try:
            with context.bound(tenant=slug, zoom_tracking_id=tracking):
                return process(*args, delivery_id=delivery_id, **kwargs)
        except BaseException as exc:
            raised = exc
            raise
        finally:
            if before is not None:
                _quietly(_processing_count, delivery_id=delivery_id, slug=slug,
                         attempts=attempts, raised=raised)

    return wrapper


def _processing_count(*, delivery_id: int, slug: str, attempts: int,
                      raised: BaseException | None) -> None:
    from zoom_integration.models import DeliveryStatus

    after = _delivery_row(delivery_id, "status", "attempts")
    if after is None or after[1] == attempts:
        return  # not claimed by this call
    status = after[0]
    if status == DeliveryStatus.PENDING:
        outcome = "retry"
    elif status in (DeliveryStatus.PROCESSED, DeliveryStatus.IGNORED, DeliveryStatus.FAILED):
        outcome = str(status)
    else:
        outcome = "retry" if raised is not None else "interrupted"
    m.webhook_processed_observe(tenant=slug, outcome=outcome)


# --- Zoom API and OAuth ----------------------------------------------------------------------

def zoom_response_observed(*, tenant, category: str, response) -> None:
    """Called where the client receives each answer: counts it, and keeps Zoom's tracking id
    for the log lines that follow (it names the call in a support request to Zoom)."""
    _quietly(_zoom_response, tenant=tenant, category=category, response=response)


def _zoom_response(*, tenant, category: str, response) -> None:
    status = response.status_code
    label = str(status)
    if status == 400:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and str(body.get("code")) == str(ZOOM_CODE_MISSING_SCOPE):
            label = str(ZOOM_CODE_MISSING_SCOPE)
    m.zoom_api_call_observe(tenant=tenant, category=category, status=label)
    tracking = response.headers.get(context.ZOOM_TRACKING_HEADER)
    if tracking:
        # Not reset: it stays the most recent Zoom call's id until the task or request ends.
        context.zoom_tracking_id_var.set(str(tracking)[:100])


def token_refresh_observed(*, tenant, failure: BaseException | None) -> None:
    """Called once per refresh sent to Zoom, with the error it ended in (None: refreshed)."""
    _quietly(_token_refresh, tenant=tenant, failure=failure)


def _token_refresh(*, tenant, failure: BaseException | None) -> None:
    from zoom_integration.exceptions import ReauthorizationRequiredError, ZoomTransientError

    if failure is None:
        outcome = "ok"
    elif isinstance(failure, ReauthorizationRequiredError):
        outcome = "reauthorization_required"
    elif isinstance(failure, ZoomTransientError):
        outcome = "transient"
    else:
        outcome = "refused"
    m.token_refresh_observe(tenant=tenant, outcome=outcome)


# --- Dashboard metrics fetches ---------------------------------------------------------------

def _meeting_row(meeting_id: int) -> tuple | None:
    from zoom_integration.models import ZoomMeeting

    try:
        return (ZoomMeeting.objects.filter(pk=meeting_id)
                .values_list("tenant__slug", "fetched_at", "ended_event_at").first())
    except Exception:  # noqa: BLE001
        logger.debug("could not read meeting %s for metrics", meeting_id, exc_info=True)
        return None


def metrics_fetch_observed(attempt: Callable[..., Any]) -> Callable[..., Any]:
    """Counts each `metrics_fetch_attempt(*, meeting_id)` by outcome; on data stored, observes
    the time since the meeting.ended notification (the histogram)."""

    @functools.wraps(attempt)
    def wrapper(*args: Any, meeting_id: int, **kwargs: Any):
        before = _meeting_row(meeting_id)
        slug = before[0] if before else None
        try:
            with context.bound(tenant=slug):
                outcome = attempt(*args, meeting_id=meeting_id, **kwargs)
        except Exception as exc:
            if before is not None:
                _quietly(m.metrics_fetch_observe, tenant=slug,
                         outcome="retry" if "retry" in type(exc).__name__.lower() else "error")
            raise
        if before is not None:
            _quietly(_fetch_count, meeting_id=meeting_id, before=before, outcome=outcome)
        return outcome

    return wrapper


def _fetch_count(*, meeting_id: int, before: tuple, outcome: Any) -> None:
    slug, fetched_before, _ = before
    status = str(outcome.get("status") if isinstance(outcome, dict) else outcome)
    delay = None
    if status == "done":
        after = _meeting_row(meeting_id)
        if after is None or after[1] is None or after[1] == fetched_before:
            status = "already_done"  # a redelivered task for a meeting fetched earlier
        elif after[2] is not None:
            delay = (after[1] - after[2]).total_seconds()
    m.metrics_fetch_observe(tenant=slug, outcome=status, delay_seconds=delay)
