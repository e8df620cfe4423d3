"""devstack: the process helper shared by `make run`, the tests and the benchmarks."""

import signal
import sys
import time

import pytest

from devstack import (
    celery_beat_command,
    celery_worker_command,
    free_port,
    gunicorn_command,
    port_open,
    process_stop,
    start_process,
    wait_http,
    wait_until,
)


def test_a_started_server_is_waited_for_and_stopped_with_its_group(tmp_path):
    port = free_port()
    log = tmp_path / "server.log"
    server = start_process("http", [sys.executable, "-m", "http.server", str(port),
                                    "--bind", "127.0.0.1"], cwd=tmp_path, env={}, log_path=log)
    try:
        wait_http(f"http://127.0.0.1:{port}/", timeout=30, process=server.popen)
        assert server.alive() and port_open(port)
    finally:
        server.stop(timeout=10)
    assert server.popen.returncode is not None
    assert not port_open(port)
    assert "GET / " in server.log_tail()


def test_a_process_that_ignores_term_is_killed(tmp_path):
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    stubborn = start_process("stubborn", [sys.executable, "-c", code], cwd=tmp_path, env={})
    time.sleep(0.5)  # let it install its handler
    process_stop(stubborn.popen, timeout=1)
    assert stubborn.popen.returncode == -signal.SIGKILL


def test_wait_http_fails_when_the_process_exits_first(tmp_path):
    quitter = start_process("quitter", [sys.executable, "-c", "raise SystemExit(3)"],
                            cwd=tmp_path, env={})
    with pytest.raises(RuntimeError, match="exited with status 3"):
        wait_http(f"http://127.0.0.1:{free_port()}/", timeout=30, process=quitter.popen)


def test_wait_until_says_what_it_last_saw():
    with pytest.raises(AssertionError, match="waiting for the answer; last state: 41"):
        wait_until(lambda: False, timeout=0.2, interval=0.05, what="the answer",
                   describe=lambda: 41)
    assert wait_until(lambda: 42, timeout=1) == 42


def test_a_worker_without_queues_consumes_every_queue():
    every = celery_worker_command(name="w")
    assert "-Q" not in every
    assert every[1:4] == ["-A", "nectar_portal", "worker"]
    assert every[every.index("-n") + 1] == "w@%h"
    split = celery_worker_command(name="w", queues="webhooks,default", pool="prefork",
                                  concurrency=2)
    assert split[split.index("-Q") + 1] == "webhooks,default"
    assert split[split.index("-c") + 1] == "2"
    assert celery_beat_command()[1:4] == ["-A", "nectar_portal", "beat"]
    assert gunicorn_command(port=8123, workers=3)[1:] == [
        "nectar_portal.wsgi:application", "--bind", "127.0.0.1:8123", "--workers", "3"]
