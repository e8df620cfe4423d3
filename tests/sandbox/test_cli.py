"""The command line: ``send`` exit codes, ``scenario``, and the Django management command."""

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from zoom_sandbox.cli import main
from zoom_sandbox.testing import webhook_receiver

ROOT = Path(__file__).resolve().parents[2]
SECRET = "cli-secret"


def send(*args):
    out = io.StringIO()
    code = main(["send", *args], out=out)
    return code, out.getvalue()


def test_send_exits_0_on_200_and_prints_the_status():
    with webhook_receiver() as receiver:
        code, out = send("meeting.ended", "--to", receiver.url, "--secret-token", SECRET,
                         "--account-id", "Acc1", "--object-json", '{"topic": "Zoë"}')
    assert code == 0 and "HTTP 200" in out
    event = json.loads(receiver.requests[0]["body"])
    assert event["payload"]["account_id"] == "Acc1"
    assert event["payload"]["object"]["topic"] == "Zoë"


def test_send_exits_1_when_the_endpoint_does_not_answer_as_zoom_requires():
    with webhook_receiver(statuses=[401]) as receiver:
        code, out = send("user.created", "--to", receiver.url, "--secret-token", SECRET)
    assert code == 1 and "HTTP 401" in out
    code, out = send("user.created", "--to", "http://127.0.0.1:9/", "--secret-token", SECRET)
    assert code == 1 and "no answer" in out


def test_send_url_validation_checks_encrypted_token():
    with webhook_receiver(secret_token=SECRET) as good, webhook_receiver() as silent:
        assert send("endpoint.url_validation", "--to", good.url, "--secret-token",
                    SECRET)[0] == 0
        code, out = send("endpoint.url_validation", "--to", silent.url, "--secret-token",
                         SECRET)
    assert code == 1 and "encryptedToken" in out


@pytest.mark.parametrize("args", [
    ["no.such.event", "--to", "http://127.0.0.1:9/", "--secret-token", "t"],
    ["user.created", "--to", "not-a-url", "--secret-token", "t"],
    ["user.created", "--to", "http://127.0.0.1:9/"],
    ["user.created", "--to", "http://127.0.0.1:9/", "--secret-token", "t",
     "--object-json", "{bad"],
])
def test_send_bad_input_exits_2_with_one_line(args, capsys):
    assert main(["send", *args], out=io.StringIO()) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_scenario_plays_against_an_endpoint():
    with webhook_receiver() as receiver:
        out = io.StringIO()
        code = main(["scenario", "--to", receiver.url, "--secret-token", SECRET,
                     "--account-id", "Acc1", "--hours", "10", "--speed", "1000000"], out=out)
    assert code == 0, out.getvalue()
    events = {json.loads(r["body"])["event"] for r in receiver.requests}
    assert "meeting.ended" in events and len(receiver.requests) > 5


def test_management_command_send_and_bad_input():
    with webhook_receiver() as receiver:
        out = io.StringIO()
        call_command("zoom_sandbox", "send", "user.deleted", "--to", receiver.url,
                     "--secret-token", SECRET, stdout=out)
    assert "HTTP 200" in out.getvalue()
    with pytest.raises(CommandError) as failure:
        call_command("zoom_sandbox", "send", "user.deleted", "--to", "nope",
                     "--secret-token", SECRET)
    assert failure.value.returncode == 2


def test_manage_py_exit_code_in_a_subprocess():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "nectar_portal.settings.test"}
    result = subprocess.run(
        [sys.executable, "manage.py", "zoom_sandbox", "send", "bogus", "--to", "http://x/",
         "--secret-token", "t"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "unknown event" in result.stderr and "Traceback" not in result.stderr


def _sigint_default():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_manage_py_runs_the_server_and_prints_credentials():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "nectar_portal.settings.test"}
    apps = json.dumps([{"client_id": "cid1", "client_secret": "cs1", "secret_token": "st1",
                        "redirect_uri": "http://localhost:8000/adminapi/zoom/oauth/authorize"}])
    process = subprocess.Popen(
        [sys.executable, "manage.py", "zoom_sandbox", "--port", "0", "--quiet",
         "--apps-json", apps], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
        # Ctrl-C as at a terminal. A child inherits an ignored SIGINT, and the suite itself may
        # run with SIGINT ignored: a shell without job control starts its background commands
        # (`make test &`, nohup) that way (POSIX). Python then never raises KeyboardInterrupt.
        preexec_fn=_sigint_default)
    try:
        lines = [process.stdout.readline() for _ in range(9)]
        banner = "".join(lines)
        assert "client id:      cid1" in banner and "secret token:   st1" in banner
        base = lines[0].split()[-1]
        import requests

        assert requests.get(base + "/_sandbox/health", timeout=5).json()["ok"] is True
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        process.stdout.close()


def test_scenario_drives_a_running_sandbox():
    from zoom_sandbox.testing import running_sandbox

    with webhook_receiver() as receiver, running_sandbox(apps=[
            {"secret_token": SECRET, "event_url": receiver.url}]) as sandbox:
        out = io.StringIO()
        code = main(["scenario", "--sandbox", sandbox.base_url, "--hours", "12",
                     "--speed", "1000000"], out=out)
        assert code == 0, out.getvalue()
        assert sandbox.wait_deliveries(5)
        counts = sandbox.stats()["delivery_counts"]
        assert counts["delivered"] > 5 and "failed" not in counts
