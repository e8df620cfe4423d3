"""Processes of the dev stack: ports, readiness waits, start with a log, stop by process group.

Standard library only, so `scripts/run_local.py` can use it before the virtualenv's Django is
configured. A process started here runs in a session of its own: stopping it signals its whole
process group (gunicorn's and Celery's children included) and nothing else on the machine.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_until(predicate: Callable[[], object], *, timeout: float, interval: float = 0.1,
               what: str = "condition", describe: Callable[[], object] | None = None):
    """Polls `predicate` until it returns something true (returned); AssertionError on timeout,
    with `describe()` appended so a failing test says what it last saw."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            state = f"; last state: {describe()}" if describe else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}{state}")
        time.sleep(interval)


def wait_http(url: str, *, timeout: float = 60.0, process: subprocess.Popen | None = None,
              host: str | None = None, interval: float = 0.2) -> None:
    """Returns once `url` answers at all (any HTTP status counts: the server is up).

    RuntimeError when `process` exits first or nothing answers within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process for {url} exited with status {process.returncode}")
        try:
            request = urllib.request.Request(url, headers={"Host": host} if host else {})
            with urllib.request.urlopen(request, timeout=2):  # noqa: S310 (loopback URLs)
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError as exc:
            last = str(exc)
            time.sleep(interval)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s ({last})")


def process_stop(process: subprocess.Popen | None, *, sig: int = signal.SIGTERM,
                 timeout: float = 15.0) -> None:
    """Stops `process`: `sig`, then SIGKILL after `timeout` seconds.

    A process started in a session of its own is signalled with its whole group (its pool
    children die with it); any other process alone.
    """
    if process is None or process.poll() is not None:
        return
    group = _own_group(process.pid)

    def send(signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(process.pid, signum)
            else:
                os.kill(process.pid, signum)

    send(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        process.wait(timeout=10)


def _own_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False


@dataclass
class ManagedProcess:
    """A process this stack started, its log file, and what callers learnt about it."""

    name: str
    popen: subprocess.Popen
    log_path: Path | None = None
    url: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 15.0, *, sig: int = signal.SIGTERM) -> None:
        process_stop(self.popen, sig=sig, timeout=timeout)

    def log_tail(self, lines: int = 20) -> str:
        if self.log_path is None:
            return ""
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def start_process(name: str, args: Sequence[str], *, cwd: Path | str,
                  env: Mapping[str, str], log_path: Path | None = None,
                  stdout=None, stderr=None) -> ManagedProcess:
    """Starts `args` in a new session.

    With `log_path`, stdout and stderr both go to that file (kept open as long as the
    process lives); otherwise `stdout` / `stderr` are passed to Popen as given.
    """
    handle = None
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(log_path, "wb")  # noqa: SIM115 - lives as long as the process
        stdout, stderr = handle, subprocess.STDOUT
    popen = subprocess.Popen(list(args), cwd=cwd, env=dict(env), stdout=stdout, stderr=stderr,
                             start_new_session=True)
    if handle is not None:
        handle.close()  # the child holds its own descriptor
    return ManagedProcess(name, popen, log_path)
