"""Gauges computed when Prometheus scrapes: tenant health, backlogs, queues, caps, workers.

These facts live in PostgreSQL and Redis, not in any one process, so they are read at scrape time
by one `PortalCollector` instead of being kept up to date by hand. The tenant facts come from the
same one-query selector the Tenant health page uses, so the page and the alerts never disagree.
A source that cannot be read is reported as `portal_metrics_source_up{source=...} 0` and its
gauges are left out; the rest of the scrape still answers.

Only active tenants are reported: an inactive tenant is switched off on purpose and must not
page anyone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from django.conf import settings
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .metrics import tenant_label

logger = logging.getLogger(__name__)

DEFAULT_EVENT_SILENCE_SECONDS = 24 * 60 * 60
# kombu's Redis transport keeps a queue's messages in a list named after the queue, plus one
# list per priority step (0 is the plain name) and the unacknowledged ones in one hash.
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)
_UNACKED_HASH = "unacked"
REDIS_TIMEOUT_SECONDS = 1.0


def _timestamp(value) -> float:
    return value.timestamp() if value is not None else 0.0


class PortalCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("portal_metrics_source_up",
                               "1 when the source of these gauges answered this scrape.",
                               labels=["source"])
        for source, produce in (("database", self._database), ("broker", self._broker)):
            try:
                families = list(produce())
            except Exception:  # noqa: BLE001 - report the source down, keep the rest
                logger.warning("metrics: the %s could not be read", source, exc_info=True)
                up.add_metric([source], 0)
                continue
            up.add_metric([source], 1)
            yield from families
        yield up
        yield GaugeMetricFamily(
            "portal_event_silence_threshold_seconds",
            "How long a connected tenant may send no event before an alert "
            "(PORTAL_EVENT_SILENCE_SECONDS).",
            value=float(getattr(settings, "PORTAL_EVENT_SILENCE_SECONDS",
                                DEFAULT_EVENT_SILENCE_SECONDS)))

    # --- database ------------------------------------------------------------------------------

    def _database(self) -> Iterator[GaugeMetricFamily]:
        from django.db.models import Count, Min

        from tenants.models import Tenant
        from zoom_integration.models import ConnectionState, DeliveryStatus, ZoomWebhookDelivery
        from zoom_integration.selectors.health import HealthCode, tenant_health_overview

        rows = list(tenant_health_overview(base=Tenant.objects.filter(is_active=True)))
        by_health = GaugeMetricFamily("portal_tenants", "Active tenants by health state.",
                                      labels=["health"])
        health = GaugeMetricFamily(
            "portal_tenant_health", "1 for each active tenant's current health state.",
            labels=["tenant", "health"])
        missing = GaugeMetricFamily(
            "portal_tenant_missing_capabilities",
            "Required Zoom scopes the tenant's authorization lacks (0: nothing missing).",
            labels=["tenant"])
        last_event = GaugeMetricFamily(
            "portal_tenant_last_event_timestamp_seconds",
            "Connected tenants: Unix time of the last stored event, or of the authorization "
            "when that is later.", labels=["tenant"])
        calls = GaugeMetricFamily(
            "portal_zoom_daily_calls", "Zoom calls today (UTC) in the daily-capped categories.",
            labels=["tenant"])
        cap = GaugeMetricFamily("portal_zoom_daily_cap",
                                "The account's daily cap of those calls (plan).",
                                labels=["tenant"])
        cap_used = GaugeMetricFamily("portal_zoom_daily_cap_used_ratio",
                                     "Share of the daily cap used today (0 to 1 and over).",
                                     labels=["tenant"])
        counts = dict.fromkeys(HealthCode.LABELS, 0)
        for row in rows:
            label = tenant_label(row)
            counts[row.h_status] = counts.get(row.h_status, 0) + 1
            health.add_metric([label, row.h_status], 1)
            conn = getattr(row, "zoom_connection", None)
            connected = row.h_conn_state == ConnectionState.CONNECTED
            # As on the health page: what is missing matters while the authorization is in use.
            # Required capabilities Zoom did not grant or refused (keys, space-separated).
            missing.add_metric([label], len((conn.missing_capabilities or "").split())
                               if connected and conn else 0)
            if connected:
                since = max(_timestamp(row.h_last_event_at),
                            _timestamp(conn.authorized_at if conn else None))
                last_event.add_metric([label], since)
            calls.add_metric([label], row.h_api_calls_today)
            cap.add_metric([label], row.h_daily_cap)
            cap_used.add_metric([label], float(row.h_api_cap_share or 0.0))
        for code, count in counts.items():
            by_health.add_metric([code], count)
        yield from (by_health, health, missing, last_event, calls, cap, cap_used)

        pending = GaugeMetricFamily("portal_webhook_deliveries_pending",
                                    "Stored deliveries waiting to be processed.",
                                    labels=["tenant"])
        oldest = GaugeMetricFamily(
            "portal_webhook_oldest_pending_age_seconds",
            "Age of the oldest delivery waiting to be processed (0: none waiting).",
            labels=["tenant"])
        waiting = {
            slug: (n, first) for slug, n, first in
            ZoomWebhookDelivery.objects.filter(status=DeliveryStatus.PENDING,
                                               tenant__is_active=True)
            .order_by().values("tenant__slug")
            .annotate(n=Count("pk"), first=Min("received_at"))
            .values_list("tenant__slug", "n", "first")}
        now = time.time()
        for row in rows:
            n, first = waiting.get(row.slug, (0, None))
            pending.add_metric([tenant_label(row)], n)
            oldest.add_metric([tenant_label(row)], max(0.0, now - first.timestamp())
                              if first else 0.0)
        yield from (pending, oldest)

    # --- broker and workers (Redis) ---------------------------------------------------------

    def _broker(self) -> Iterator[GaugeMetricFamily]:
        url = getattr(settings, "CELERY_BROKER_URL", "") or ""
        if not url.startswith(("redis://", "rediss://")):
            return  # the embedded broker of `make run`: nothing to measure
        import redis

        client = redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                      socket_connect_timeout=REDIS_TIMEOUT_SECONDS)
        try:
            queues = [queue.name for queue in settings.CELERY_TASK_QUEUES]
            length = GaugeMetricFamily("portal_celery_queue_length",
                                       "Messages waiting in each Celery queue.",
                                       labels=["queue"])
            pipe = client.pipeline(transaction=False)
            for queue in queues:
                pipe.llen(queue)
                for step in _PRIORITY_STEPS:
                    pipe.llen(f"{queue}{_PRIORITY_SEPARATOR}{step}")
            pipe.hlen(_UNACKED_HASH)
            results = pipe.execute()
            per_queue = 1 + len(_PRIORITY_STEPS)
            for i, queue in enumerate(queues):
                length.add_metric([queue], sum(results[i * per_queue:(i + 1) * per_queue]))
            yield length
            yield GaugeMetricFamily(
                "portal_celery_unacked_messages",
                "Messages taken by a worker and not yet acknowledged (running or prefetched).",
                value=results[-1])
        finally:
            client.close()
        yield from self._workers()

    def _workers(self) -> Iterator[GaugeMetricFamily]:
        from .workers import worker_hosts_alive

        yield GaugeMetricFamily(
            "portal_celery_workers",
            "Celery workers whose heartbeat reached Redis within the last minute.",
            value=len(worker_hosts_alive()))
