"""zoom_sync and zoom_fetch_metrics: output, JSON last line, clear errors."""

import json
from io import StringIO

import pytest
import responses
from django.core.management import call_command
from django.core.management.base import CommandError

from zoom_integration.models import ZoomMeeting, ZoomUser

from .conftest import API
from .test_metrics import PATH, UUID, _serve_meeting

pytestmark = pytest.mark.django_db


@responses.activate
def test_zoom_sync_syncs_users_and_groups(connected):
    responses.get(f"{API}/groups", json={"groups": [{"id": "G1", "name": "Sales"}]})
    responses.get(f"{API}/users", json={"users": [{"id": "U1", "email": "a@x.example",
                                                   "group_ids": ["G1"]}]})
    out = StringIO()
    call_command("zoom_sync", connected.slug, stdout=out)
    assert "groups: succeeded" in out.getvalue() and "users: succeeded" in out.getvalue()
    assert ZoomUser.objects.filter(tenant=connected).count() == 1


@responses.activate
def test_zoom_sync_groups_only_lists_members(connected):
    responses.get(f"{API}/groups", json={"groups": [{"id": "G1", "name": "Sales"}]})
    responses.get(f"{API}/groups/G1/members", json={"members": []})
    call_command("zoom_sync", connected.slug, "--groups", stdout=StringIO())
    assert not [c for c in responses.calls if "/users" in c.request.url]
    assert [c for c in responses.calls if "/members" in c.request.url]


def test_zoom_sync_unknown_tenant_is_one_clear_line(db):
    with pytest.raises(CommandError, match="no tenant with slug 'nope'"):
        call_command("zoom_sync", "nope")


@responses.activate
def test_zoom_fetch_metrics_last_line_is_json(connected):
    _serve_meeting(n_participants=3, minutes=2)
    out = StringIO()
    call_command("zoom_fetch_metrics", connected.slug, "--meeting", UUID, stdout=out)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert (summary["participants"], summary["qos_samples"], summary["poor_participants"]) == (
        3, 6, 1)


@responses.activate
def test_zoom_fetch_metrics_not_found_leaves_nothing_behind(connected):
    responses.get(PATH, status=404, json={"code": 3001, "message": "Meeting does not exist"})
    with pytest.raises(CommandError, match="no dashboard data"):
        call_command("zoom_fetch_metrics", connected.slug, "--meeting", UUID)
    assert not ZoomMeeting.objects.exists()


def test_zoom_fetch_metrics_needs_exactly_one_target(connected):
    with pytest.raises(CommandError):
        call_command("zoom_fetch_metrics", connected.slug)
    with pytest.raises(CommandError):
        call_command("zoom_fetch_metrics", connected.slug, "--meeting", "a", "--webinar", "b")


def test_zoom_fetch_metrics_unknown_tenant(db):
    with pytest.raises(CommandError, match="no tenant"):
        call_command("zoom_fetch_metrics", "nope", "--webinar", "x")


class _Terminal(StringIO):
    def isatty(self):
        return True


@responses.activate
def test_zoom_sync_draws_a_progress_bar_on_a_terminal(connected, monkeypatch):
    import sys

    responses.get(f"{API}/groups", json={"groups": []})
    responses.get(f"{API}/users", json={"users": [{"id": f"U{i}"} for i in range(5)],
                                        "total_records": 5})
    terminal, bar = _Terminal(), StringIO()
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setattr(sys, "stderr", bar)
    call_command("zoom_sync", connected.slug, stdout=terminal)
    assert "5/5" in bar.getvalue()  # tqdm's counter reached the total
    assert "users: succeeded" in terminal.getvalue()


@responses.activate
def test_zoom_fetch_metrics_missing_scope_is_recorded_on_the_connection(connected):
    from zoom_integration.models import ZoomConnection

    qos_scope = "dashboard:read:list_meeting_participants_qos:admin"
    responses.get(PATH, json={"uuid": UUID, "participants": 1})
    responses.get(f"{PATH}/participants", json={"participants": [], "next_page_token": ""})
    responses.get(f"{PATH}/participants/qos", status=400, json={
        "code": 4711, "message": f"Invalid access token, does not contain scopes:[{qos_scope}]."})
    with pytest.raises(CommandError, match=f"The app lacks scope {qos_scope}: add it in Zoom"):
        call_command("zoom_fetch_metrics", connected.slug, "--meeting", UUID)
    conn = ZoomConnection.objects.get(tenant=connected)
    assert conn.missing_capabilities == "meeting_qos" and conn.missing_scopes == qos_scope
    assert not ZoomMeeting.objects.exists()
