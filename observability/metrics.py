"""Every metric the portal's own code counts, defined in one place (prometheus-client).

Counters and the one histogram live here; gauges computed from the database and Redis at scrape
time live in `collectors.py`. Code elsewhere never touches these objects directly: it calls the
small `*_observe` functions below (through `hooks.py`), so a metric's labels are decided here.

Label values: prometheus-client escapes quotes, backslashes and newlines in the text format, so
any string is a valid label value; `tenant_label` only bounds the length and never fails, so an
odd slug cannot break a scrape or the code being measured.

With `PROMETHEUS_MULTIPROC_DIR` set (before this module is imported), prometheus-client keeps
each process's values in files there and `/metrics` sums them: the web workers and the Celery
pool processes of one machine then show up in one scrape (docs/operations.md).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

MAX_LABEL_LENGTH = 64

WEBHOOK_ACCEPTED = Counter(
    "portal_webhook_deliveries_accepted",
    "Event notifications answered 200 (stored, duplicates and URL validations).", ["tenant"])
WEBHOOK_REFUSED = Counter(
    "portal_webhook_deliveries_refused",
    "Event notifications not accepted, by reason (the answer was 4xx, or 503 for not_stored).",
    ["tenant", "reason"])
WEBHOOK_STORED = Counter(
    "portal_webhook_deliveries_stored",
    "Event notifications stored as a new delivery (duplicates not counted).", ["tenant"])
WEBHOOK_PROCESSED = Counter(
    "portal_webhook_deliveries_processed",
    "Processing attempts of stored deliveries, by outcome (processed, ignored, failed, retry).",
    ["tenant", "outcome"])
ZOOM_API_CALLS = Counter(
    "portal_zoom_api_calls",
    "Answers from Zoom's REST API by rate category and HTTP status; a missing scope (HTTP 400 "
    "with Zoom code 4711) is counted as status 4711.", ["tenant", "category", "status"])
TOKEN_REFRESHES = Counter(
    "portal_zoom_token_refreshes",
    "Access token refreshes by outcome (ok, reauthorization_required, refused, transient).",
    ["tenant", "outcome"])
METRICS_FETCHES = Counter(
    "portal_metrics_fetches",
    "Dashboard data fetch attempts for ended meetings and webinars, by outcome.",
    ["tenant", "outcome"])
METRICS_DELAY = Histogram(
    "portal_metrics_stored_delay_seconds",
    "Time from the meeting.ended (or webinar.ended) notification to its data being stored.",
    ["tenant"],
    # Zoom needs minutes before the data exists; retries and daily-limit parking stretch it.
    buckets=(60, 120, 180, 300, 600, 900, 1800, 3600, 7200, 21600, 86400, float("inf")))
CELERY_TASKS = Counter(
    "portal_celery_tasks",
    "Celery task runs by task name and outcome (succeeded, failed, retried).",
    ["task", "outcome"])


def tenant_label(tenant) -> str:
    """The `tenant` label: the slug, bounded; never raises (a tenant or a slug string)."""
    slug = getattr(tenant, "slug", tenant)
    return str(slug if slug is not None else "")[:MAX_LABEL_LENGTH]


def webhook_answer_observe(*, tenant, status: int, reason: str = "", stored: bool = False) -> None:
    label = tenant_label(tenant)
    if 200 <= status < 300:
        WEBHOOK_ACCEPTED.labels(tenant=label).inc()
        if stored:
            WEBHOOK_STORED.labels(tenant=label).inc()
    else:
        WEBHOOK_REFUSED.labels(tenant=label, reason=(reason or str(status))[:40]).inc()


def webhook_processed_observe(*, tenant, outcome: str) -> None:
    WEBHOOK_PROCESSED.labels(tenant=tenant_label(tenant), outcome=outcome).inc()


def zoom_api_call_observe(*, tenant, category: str, status: str) -> None:
    ZOOM_API_CALLS.labels(tenant=tenant_label(tenant), category=category, status=status).inc()


def token_refresh_observe(*, tenant, outcome: str) -> None:
    TOKEN_REFRESHES.labels(tenant=tenant_label(tenant), outcome=outcome).inc()


def metrics_fetch_observe(*, tenant, outcome: str, delay_seconds: float | None = None) -> None:
    label = tenant_label(tenant)
    METRICS_FETCHES.labels(tenant=label, outcome=outcome).inc()
    if delay_seconds is not None:
        METRICS_DELAY.labels(tenant=label).observe(max(0.0, delay_seconds))


def celery_task_observe(*, task: str, outcome: str) -> None:
    CELERY_TASKS.labels(task=task[:120], outcome=outcome).inc()
