"""`gunicorn nectar_portal.wsgi`, started as the README says, logs no OAuth code, state or token.

Runs the real gunicorn (it reads gunicorn.conf.py from the repository root), sends the request
Zoom's redirect produces, and reads what gunicorn wrote.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from nectar_portal.log_filters import RedactSensitiveQueryFilter
from tests import celery_worker as worker_helper

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

GUNICORN = Path(sys.executable).with_name("gunicorn")
CODE, STATE, TOKEN = "AuthCodeLeak123456", "StateLeak654321", "AccessTokLeak999"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_gunicorn_access_lines_carry_no_oauth_values(tmp_path):
    readme = (settings.BASE_DIR / "README.md").read_text()
    assert "`gunicorn nectar_portal.wsgi`" in readme
    port = _free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "nectar_portal.settings.test",
           "DATABASE_URL": worker_helper.test_database_url(), "REDIS_URL": settings.REDIS_URL}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    out = (tmp_path / "gunicorn.log").open("w+")
    server = subprocess.Popen([str(GUNICORN), "nectar_portal.wsgi", "--bind", f"127.0.0.1:{port}"],
                              cwd=settings.BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = (f"http://127.0.0.1:{port}/adminapi/zoom/oauth/authorize"
               f"?code={CODE}&state={STATE}&access_token={TOKEN}")
        deadline, answered = time.monotonic() + 30, False
        while time.monotonic() < deadline and not answered:
            try:
                urllib.request.urlopen(url, timeout=5)  # noqa: S310
                answered = True
            except urllib.error.HTTPError:
                answered = True  # any status: the request line was logged
            except OSError:
                time.sleep(0.3)
        assert answered, "gunicorn did not answer"
        time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=20)
    out.seek(0)
    log = out.read()
    out.close()
    assert "GET /adminapi/zoom/oauth/authorize?code=[redacted]&state=[redacted]" in log, log
    for value in (CODE, STATE, TOKEN):
        assert value not in log


def test_the_log_filter_redacts_mapping_arguments_as_gunicorn_passes_them():
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, '"%(r)s" %(s)s',
                               ({"r": f"GET /cb?code={CODE}&state={STATE} HTTP/1.1",
                                 "s": "200"},), None)
    assert RedactSensitiveQueryFilter().filter(record)
    assert record.getMessage() == '"GET /cb?code=[redacted]&state=[redacted] HTTP/1.1" 200'
