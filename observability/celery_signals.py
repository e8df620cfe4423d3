"""Celery signal receivers: task ids in the log context, task outcome counters, worker liveness.

Connected once per process by `ObservabilityConfig.ready()`. Eager tasks (unit tests) send the
same task signals, so the counters behave alike there.
"""

from __future__ import annotations

import logging
import os

from celery import signals

from . import context
from .metrics import celery_task_observe

logger = logging.getLogger(__name__)

_task_tokens: dict[str, dict] = {}
_heartbeat = None


@signals.task_prerun.connect
def _task_started(task_id=None, task=None, **_):
    if task_id:
        _task_tokens[task_id] = context.bind(task_id=task_id)


@signals.task_postrun.connect
def _task_finished(task_id=None, **_):
    tokens = _task_tokens.pop(task_id, None)
    if tokens:
        try:
            context.unbind(tokens)
        except ValueError:  # reset from another context (should not happen): just clear
            context.task_id_var.set(None)


@signals.task_success.connect
def _task_succeeded(sender=None, **_):
    celery_task_observe(task=getattr(sender, "name", "unknown"), outcome="succeeded")


@signals.task_failure.connect
def _task_failed(sender=None, **_):
    celery_task_observe(task=getattr(sender, "name", "unknown"), outcome="failed")


@signals.task_retry.connect
def _task_retried(sender=None, **_):
    celery_task_observe(task=getattr(sender, "name", "unknown"), outcome="retried")


@signals.worker_ready.connect
def _worker_ready(sender=None, **_):
    """Main worker process, once it consumes: heartbeat and (optionally) the metrics port."""
    global _heartbeat
    from django.conf import settings

    from .workers import Heartbeat, worker_metrics_serve

    hostname = getattr(sender, "hostname", None) or f"pid{os.getpid()}"
    if getattr(settings, "REDIS_URL", ""):
        _heartbeat = Heartbeat(hostname).start()
    try:
        worker_metrics_serve()
    except OSError as exc:  # port taken: the worker still works, say why metrics do not
        logger.error("worker metrics port could not be opened: %s", exc)


@signals.worker_shutdown.connect
def _worker_stopping(**_):
    if _heartbeat is not None:
        _heartbeat.stop()


@signals.worker_process_shutdown.connect
def _pool_process_exit(pid=None, **_):
    # Multiprocess mode: live-process gauges of this pool process are dropped; counters stay
    # summed in the files (prometheus-client's documented clean-up for forked workers).
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())
