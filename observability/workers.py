"""Celery workers seen from outside: a liveness heartbeat in Redis and the optional metrics port.

Heartbeat: each worker (its main process) writes `portal:worker:<hostname>` to Redis every
HEARTBEAT_SECONDS with a TTL of HEARTBEAT_TTL_SECONDS, and deletes it on a clean stop. The web's
`/metrics` counts the keys still alive (`portal_celery_workers`), so "no worker" is visible
from the web alone, wherever the workers run. Without REDIS_URL (the embedded broker of
`make run`) there is no heartbeat.

Metrics port: with PORTAL_WORKER_METRICS_PORT set, the worker's main process serves Prometheus'
text format on that port (PORTAL_WORKER_METRICS_ADDR, default 127.0.0.1). Tasks run in pool
processes, so the counts are read from PROMETHEUS_MULTIPROC_DIR, which must be set for the
worker; without it only the main process's own values would show, so nothing is served.
"""

from __future__ import annotations

import logging
import os
import threading

from django.conf import settings

logger = logging.getLogger(__name__)

WORKER_KEY_PREFIX = "portal:worker:"
HEARTBEAT_SECONDS = 20
HEARTBEAT_TTL_SECONDS = 60


def _redis():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def worker_heartbeat(*, hostname: str) -> None:
    """Marks `hostname` alive for HEARTBEAT_TTL_SECONDS."""
    client = _redis()
    try:
        client.set(f"{WORKER_KEY_PREFIX}{hostname}", "1", ex=HEARTBEAT_TTL_SECONDS)
    finally:
        client.close()


def worker_gone(*, hostname: str) -> None:
    client = _redis()
    try:
        client.delete(f"{WORKER_KEY_PREFIX}{hostname}")
    finally:
        client.close()


def worker_hosts_alive() -> list[str]:
    if not getattr(settings, "REDIS_URL", ""):
        return []
    client = _redis()
    try:
        return sorted(key.decode()[len(WORKER_KEY_PREFIX):]
                      for key in client.scan_iter(match=f"{WORKER_KEY_PREFIX}*", count=500))
    finally:
        client.close()


class Heartbeat:
    """A daemon thread beating for one worker until `stop()`."""

    def __init__(self, hostname: str):
        self.hostname = hostname
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="portal-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                worker_heartbeat(hostname=self.hostname)
            except Exception as exc:  # noqa: BLE001 - Redis away: the gauge drops, as it should
                logger.warning("worker heartbeat failed: %s", type(exc).__name__)
            self._stop.wait(HEARTBEAT_SECONDS)

    def stop(self) -> None:
        self._stop.set()
        try:
            worker_gone(hostname=self.hostname)
        except Exception:  # noqa: BLE001 - the key expires on its own
            logger.debug("could not remove the heartbeat of %s", self.hostname, exc_info=True)


def worker_metrics_serve() -> int | None:
    """Starts the worker's metrics HTTP server when configured; returns the port, or None."""
    port = getattr(settings, "PORTAL_WORKER_METRICS_PORT", None)
    if not port:
        return None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        logger.warning("PORTAL_WORKER_METRICS_PORT is set but PROMETHEUS_MULTIPROC_DIR is not: "
                       "the pool processes' counts cannot be collected; not serving metrics")
        return None
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    addr = getattr(settings, "PORTAL_WORKER_METRICS_ADDR", "127.0.0.1")
    start_http_server(int(port), addr=addr, registry=registry)
    logger.info("worker metrics on http://%s:%s/metrics", addr, port)
    return int(port)
