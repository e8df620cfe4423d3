"""Starting and stopping the portal's development stack, shared by `make run`, the tests and the
benchmarks.

Owns the mechanics every supervisor needs and nothing about what it supervises:
- `processes`: free ports, readiness waits (a port, an HTTP answer, a condition), a started
  process with its log and its teardown (TERM to its own process group, then KILL);
- `commands`: the command lines of the portal's processes (gunicorn, a Celery worker, beat), so
  every caller starts them the same way.

Callers keep their own policy: which database, which settings module, what to log where, whether
a dead process is restarted. The Zoom sandbox is started by its callers with their own options.
"""

from .commands import celery_beat_command, celery_worker_command, gunicorn_command
from .processes import (
    ManagedProcess,
    free_port,
    port_open,
    process_stop,
    start_process,
    wait_http,
    wait_until,
)

__all__ = [
    "ManagedProcess",
    "celery_beat_command",
    "celery_worker_command",
    "free_port",
    "gunicorn_command",
    "port_open",
    "process_stop",
    "start_process",
    "wait_http",
    "wait_until",
]
