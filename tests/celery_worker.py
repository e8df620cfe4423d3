"""A real Celery worker subprocess for integration tests, on this test's database and Redis.

Tests that need the whole pipeline (webhook → worker → Zoom sandbox) start one with
`celery_worker(...)`; it is always stopped, however the test ends. The command line and the
teardown are `devstack`'s, the helper `make run` and the benchmarks share.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from django.conf import settings

from devstack import celery_worker_command, process_stop


def test_database_url() -> str:
    """The URL of the database pytest-django created, for processes outside this one."""
    db = settings.DATABASES["default"]
    return (f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@"
            f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}")


@contextmanager
def celery_worker(*, name: str, queues: str,
                  settings_module: str = "nectar_portal.settings.test",
                  env: Mapping[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """One solo worker consuming `queues`; its stderr is a pipe the test may read on failure."""
    worker_env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module,
                  "CELERY_TASK_ALWAYS_EAGER": "0", "REDIS_URL": settings.REDIS_URL,
                  "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
                  "DATABASE_URL": test_database_url(), **(env or {})}
    # Set by pytest-django's live_server; a worker must not inherit it.
    worker_env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    worker = subprocess.Popen(
        celery_worker_command(name=name, queues=queues, pool="solo", loglevel="warning"),
        cwd=settings.BASE_DIR, env=worker_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield worker
    finally:
        process_stop(worker)
        if worker.stderr:
            worker.stderr.close()
