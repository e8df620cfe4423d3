"""zoom_reconcile and zoom_overview: JSON last line, one clear line on bad input."""

import json
import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
import responses
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from zoom_integration.models import ZoomMeeting

from .conftest import row, today

pytestmark = pytest.mark.django_db


def test_zoom_reconcile_last_line_is_json(connected, lists, django_capture_on_commit_callbacks):
    lists.add("meetings", row("a"), row("b"), row("", topic="no uuid"))
    out, err = StringIO(), StringIO()
    with django_capture_on_commit_callbacks():
        call_command("zoom_reconcile", connected.slug, "--days", "3", stdout=out, stderr=err)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert (summary["listed"], summary["missing"], summary["queued"], summary["skipped"]) == (
        3, 2, 2, 1)
    assert summary["days"] == 3 and summary["complete"] is True
    assert {s["from"] for s in lists.sent} == {(today() - timedelta(days=3)).isoformat()}
    assert ZoomMeeting.objects.count() == 2


def test_zoom_reconcile_default_is_one_day(connected, lists, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        call_command("zoom_reconcile", connected.slug, stdout=StringIO())
    assert len(lists.sent) == 2  # meetings and webinars, one window each


@pytest.mark.parametrize(("argv", "message"), [
    (["nope"], "no tenant with slug 'nope'"),
    (["{slug}", "--days", "0"], "--days must be at least 1"),
    (["{slug}", "--days", "-3"], "--days must be at least 1"),
    (["{slug}", "--days", "week"], "--days must be a whole number"),
])
def test_zoom_reconcile_bad_input_is_one_clear_line(connected, argv, message):
    argv = [a.format(slug=connected.slug) for a in argv]
    with pytest.raises(CommandError, match=message) as caught:
        call_command("zoom_reconcile", *argv)
    assert caught.value.returncode == 2


def test_zoom_reconcile_from_a_shell_exits_2_with_one_line(db):
    result = subprocess.run(
        [sys.executable, "manage.py", "zoom_reconcile", "nope", "--days", "x"],
        cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "nectar_portal.settings.test"})
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.endswith("--days must be a whole number of days, not 'x'")
    assert "Traceback" not in result.stderr


@responses.activate
def test_zoom_overview_last_line_is_json(connected):
    from .test_overview import serve_overview

    serve_overview()
    out = StringIO()
    call_command("zoom_overview", connected.slug, stdout=out, stderr=StringIO())
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["sections"] == {"quality": "ok", "client_versions": "ok", "zoom_rooms": "ok",
                                   "top_rooms": "ok", "top_issues": "ok"}
    assert summary["client_versions"] == 3 and summary["quality_days"] == 7


def test_zoom_overview_unknown_tenant(db):
    with pytest.raises(CommandError, match="no tenant with slug 'nope'"):
        call_command("zoom_overview", "nope")
