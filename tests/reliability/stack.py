"""Service instances of the fault tests' own: PostgreSQL, Redis, the portal, Celery workers.

Every instance runs on a free port in a temporary folder, never the machine's shared 5432 or
6379, and is stopped by its fixture. Ports, waits, command lines and teardown come from
`devstack`, the helper `make run` and the benchmarks share. Their output is kept under
test-artifacts/audit/processes for the secrets scan.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from django.conf import settings

from devstack import (
    celery_worker_command,
    free_port,
    gunicorn_command,
    port_open,
    process_stop,
    wait_until,
)

from .audit import AUDIT_DIR

__all__ = ["PostgresCluster", "RedisInstance", "Stack", "children_of", "wait_until"]

ROOT = Path(settings.BASE_DIR)
PROCESS_LOGS = AUDIT_DIR / "processes"


def _log_file(name: str):
    PROCESS_LOGS.mkdir(parents=True, exist_ok=True)
    return open(PROCESS_LOGS / f"{name}-{os.getpid()}-{time.time_ns()}.log", "wb")  # noqa: SIM115


class RedisInstance:
    """`redis-server --save "" --appendonly no` on a port of its own: a restart loses all."""

    def __init__(self):
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_until(lambda: port_open(self.port), timeout=10, what="redis to listen")

    def stop(self) -> None:
        process_stop(self.process, sig=signal.SIGKILL)
        self.process = None
        wait_until(lambda: not port_open(self.port), timeout=10, what="redis to stop")


def _pg_bin() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not candidates:
        raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql")
    return candidates[-1].parent


def _as_postgres(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, check=True, capture_output=True, timeout=120, **kwargs)


class PostgresCluster:
    """A throwaway cluster (initdb into a temp folder, fsync off) on a port of its own."""

    def __init__(self):
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="nectar-rel-pg-"))
        self.data = self.base / "data"
        self.bin = _pg_bin()
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
        _as_postgres([str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust",
                      "-U", "postgres", "--no-sync", "-E", "UTF8"])

    def start(self) -> None:
        # fsync off only: an immediate stop is a crash of the server, not of the machine, so
        # committed data survives it (synchronous_commit stays on: a 200 means committed).
        options = (f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c full_page_writes=off -c max_connections=100")
        _as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
                      "-l", str(self.base / "server.log"), "-w", "-t", "60", "start"])

    def stop(self, mode: str = "immediate") -> None:
        _as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w",
                      "stop"])

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                               dbname=database, autocommit=True, connect_timeout=5)

    def create_database(self, name: str, template: str | None = None) -> None:
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"'
                                                        if template else ""))

    def dump(self, database: str) -> str:
        result = _as_postgres([str(self.bin / "pg_dump"), "-h", "127.0.0.1", "-p",
                               str(self.port), "-U", "postgres", "--data-only", database])
        return result.stdout.decode("utf-8", "replace")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


SCHEMA_SCRIPT = """
import django
django.setup()
from django.conf import settings
from django.core.management import call_command

class _NoMigrations:
    def __contains__(self, item):
        return True
    def __getitem__(self, item):
        return None

# The tables straight from the models, as `pytest --nomigrations` makes them.
settings.MIGRATION_MODULES = _NoMigrations()
call_command("migrate", run_syncdb=True, verbosity=0, interactive=False)
"""


class Stack:
    """Environment of the processes of one fault test: its database, Redis, Zoom URLs."""

    def __init__(self, *, database_url: str, redis_url: str, **extra: str):
        self.env = {
            **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")},
            "DJANGO_SETTINGS_MODULE": "tests.reliability.fault_settings",
            "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
            "DATABASE_URL": database_url, "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url, "CELERY_TASK_ALWAYS_EAGER": "0",
            **extra,
        }
        self.processes: list[subprocess.Popen] = []

    def run(self, code: str, *, stdin: str = "", timeout: float = 120) -> str:
        """Runs Python in a fresh process with this stack's settings; returns its stdout."""
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=self.env,
                                input=stdin, capture_output=True, text=True, timeout=timeout,
                                check=False)
        with _log_file("script") as log:
            log.write((result.stdout + result.stderr).encode())
        if result.returncode != 0:
            raise AssertionError(f"helper script failed: {result.stderr[-3000:]}")
        return result.stdout

    def call(self, function: str, **kwargs) -> object:
        """Calls `tests.reliability.stackctl.<function>(**kwargs)` in a fresh process."""
        code = ("import django, json, sys; django.setup(); "
                "from tests.reliability import stackctl; "
                f"print('RESULT=' + json.dumps(stackctl.{function}(**json.load(sys.stdin))))")
        out = self.run(code, stdin=json.dumps(kwargs))
        line = [x for x in out.splitlines() if x.startswith("RESULT=")][-1]
        return json.loads(line[len("RESULT="):])

    def create_schema(self) -> None:
        self.run(SCHEMA_SCRIPT, timeout=180)

    def start_web(self, *, workers: int = 2) -> str:
        port = free_port()
        process = subprocess.Popen(
            gunicorn_command(port=port, workers=workers, extra=[
                "--timeout", "30", "--graceful-timeout", "5", "--access-logfile", "-"]),
            cwd=ROOT, env=self.env, stdout=_log_file("web"), stderr=subprocess.STDOUT,
            start_new_session=True)
        self.processes.append(process)
        wait_until(lambda: port_open(port) or process.poll() is not None, timeout=30,
                   what="gunicorn to listen")
        assert process.poll() is None, "gunicorn exited at start"
        return f"http://127.0.0.1:{port}"

    def start_worker(self, *, name: str, queues: str = "webhooks,default,metrics,sync",
                     concurrency: int = 1) -> subprocess.Popen:
        process = subprocess.Popen(
            celery_worker_command(name=name, queues=queues, pool="prefork",
                                  concurrency=concurrency),
            cwd=ROOT, env=self.env, stdout=_log_file(f"worker-{name}"),
            stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process_stop(process)
        self.processes.clear()


def children_of(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(x) for x in path.read_text().split()]
    except (FileNotFoundError, ValueError):
        return []
