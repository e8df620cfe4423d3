"""Production logs: one JSON object per line, with the ids known, and nothing secret in any field.

Run in a child process started with the production settings, so the LOGGING that production
uses (not the test settings') formats the lines.
"""

import json
import subprocess
import sys
import textwrap

import pytest

from observability.logs import JsonFormatter

PROBE = textwrap.dedent('''
    import logging
    import django
    django.setup()
    from celery import shared_task
    from django.http import HttpResponse
    from django.test import RequestFactory
    from observability.middleware import RequestIdMiddleware

    log = logging.getLogger("zoom_integration.probe")

    class Tenant:
        slug = "acme"

    def view(request):
        request.tenant = Tenant()  # as the tenant middleware would
        log.warning("callback GET /adminapi/zoom/oauth/authorize?code=SECRETCODE&state=ST4TE",
                    extra={"path": "/x?access_token=SECRETTOKEN", "attempt": 2})
        return HttpResponse()

    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="req-123",
                                   HTTP_X_ZM_TRACKINGID="v=2.0;clid=aw1;rid=WEB_9")
    response = RequestIdMiddleware(view)(request)
    print(response["X-Request-ID"])

    @shared_task(name="probe.task")
    def task():
        log.info("inside the task")
        try:
            raise ValueError("refresh failed: refresh_token=SECRETREFRESH")
        except ValueError:
            log.exception("with a traceback")

    task.apply(task_id="task-abc")

    # Django's "Not Found: ..." line is written after the middleware returned.
    from django.test import Client
    # (under /static/: no tenant lookup, so no database is needed)
    Client().get("/static/no-such-file", HTTP_HOST="localhost", HTTP_X_REQUEST_ID="req-404",
                 secure=True)
    log.info("outside of any request or task")
''')


@pytest.fixture(scope="module")
def lines():
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "nectar_portal.settings.production",
           "DJANGO_SECRET_KEY": "x" * 50,
           "FIELD_ENCRYPTION_KEY": "dGVzdC1rZXktb25lLTAwMDAwMDAwMDAwMDAwMDAwMDA="}
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "req-123"
    return [line for line in result.stderr.splitlines() if line.strip()]


def test_every_line_is_one_json_object(lines):
    entries = [json.loads(line) for line in lines]  # raises on any line that is not JSON
    assert all(isinstance(e, dict) and {"time", "level", "logger", "message"} <= e.keys()
               for e in entries)
    assert any(e["message"] == "outside of any request or task" for e in entries)


def by_message(lines, start: str) -> dict:
    return next(e for e in map(json.loads, lines) if e["message"].startswith(start))


def test_request_lines_carry_request_id_tenant_and_zoom_tracking_id(lines):
    entry = by_message(lines, "callback GET")
    assert entry["request_id"] == "req-123"
    assert entry["tenant"] == "acme"
    assert entry["zoom_tracking_id"] == "v=2.0;clid=aw1;rid=WEB_9"
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "zoom_integration.probe"
    assert entry["attempt"] == 2  # extra= values are kept, with their type


def test_djangos_own_request_lines_carry_the_request_id(lines):
    entry = by_message(lines, "Not Found: /static/no-such-file")
    assert entry["request_id"] == "req-404"
    assert entry["status_code"] == 404


def test_task_lines_carry_the_task_id_and_nothing_leaks_between_contexts(lines):
    assert by_message(lines, "inside the task")["task_id"] == "task-abc"
    outside = by_message(lines, "outside of any request")
    assert not {"task_id", "request_id", "tenant", "zoom_tracking_id"} & outside.keys()


def test_no_secret_reaches_any_field(lines):
    text = "\n".join(lines)
    for secret in ("SECRETCODE", "ST4TE", "SECRETTOKEN", "SECRETREFRESH"):
        assert secret not in text
    entry = by_message(lines, "with a traceback")
    assert "ValueError" in entry["exception"]
    assert "refresh_token=[redacted]" in entry["exception"]


def test_the_formatter_never_fails_on_odd_values():
    import logging

    record = logging.makeLogRecord({"msg": "odd %s", "args": (object(),), "levelname": "INFO",
                                    "name": "x", "payload": {"token": "a"}, "blob": b"\xff"})
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"].startswith("odd <object")
    assert "payload" in entry and "blob" in entry
