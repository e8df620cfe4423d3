"""Command lines of the portal's processes, so every supervisor starts them the same way.

The Celery app is `nectar_portal`; a worker given no queues consumes every queue the portal
uses (see docs/configuration.md, "Processes: web, Celery worker, beat").
"""

from __future__ import annotations

import sys
from pathlib import Path

BIN = Path(sys.executable).parent
CELERY_APP = "nectar_portal"
WSGI_APP = "nectar_portal.wsgi:application"


def gunicorn_command(*, port: int, workers: int, host: str = "127.0.0.1",
                     extra: list[str] | None = None) -> list[str]:
    """gunicorn serving the portal on host:port with `workers` processes."""
    return [str(BIN / "gunicorn"), WSGI_APP, "--bind", f"{host}:{port}",
            "--workers", str(workers), *(extra or [])]


def celery_worker_command(*, name: str, queues: str | None = None, pool: str = "solo",
                          concurrency: int | None = None, loglevel: str = "INFO",
                          quiet_cluster: bool = True,
                          extra: list[str] | None = None) -> list[str]:
    """One Celery worker named `name@%h`.

    `queues` None: every queue. `quiet_cluster` turns off gossip, mingle and heartbeat, which
    only cost start-up time for workers that never coordinate with each other.
    """
    args = [str(BIN / "celery"), "-A", CELERY_APP, "worker"]
    if queues:
        args += ["-Q", queues]
    args += ["-P", pool]
    if concurrency is not None:
        args += ["-c", str(concurrency)]
    args += ["-n", f"{name}@%h", "-l", loglevel]
    if quiet_cluster:
        args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    return args + list(extra or [])


def celery_beat_command(*, loglevel: str = "INFO", extra: list[str] | None = None) -> list[str]:
    """The one Celery beat of an installation."""
    return [str(BIN / "celery"), "-A", CELERY_APP, "beat", "-l", loglevel, *(extra or [])]
