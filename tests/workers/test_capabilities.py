"""Scopes as capabilities: the `scope` string parser, Zoom's 4711 answer, parking on a missing
scope and resuming after re-authorization, code 300, and `zoom_status` (Zoom faked with
`responses`)."""

import json
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import given
from hypothesis import strategies as st

from tests.factories import MeetingFactory, TenantFactory
from zoom_integration import zoom
from zoom_integration.capabilities import (
    capability_state,
    connection_capabilities_apply,
    scope_parked_resume,
)
from zoom_integration.client import ZoomClient
from zoom_integration.exceptions import ZoomAPIError, ZoomScopeMissingError, ZoomTransientError
from zoom_integration.metrics import metrics_fetch_attempt
from zoom_integration.models import SyncRun, ZoomConnection
from zoom_integration.models.metrics import FetchStatus

from .conftest import API

GRANULAR_ALL = " ".join(dict.fromkeys(c.granular[0] for c in zoom.CAPABILITIES))
CLASSIC_REQUIRED = ("user:read:admin group:read:admin dashboard_meetings:read:admin "
                    "dashboard_webinars:read:admin")
QOS = "dashboard:read:list_meeting_participants_qos:admin"


# -- the scope string ----------------------------------------------------------------------------

def test_granular_app_with_every_name_lacks_nothing():
    state = capability_state(scope=GRANULAR_ALL)
    assert state.kind == zoom.GRANULAR and not state.missing and not state.optional_missing


def test_classic_app_lacks_only_what_no_name_covers():
    state = capability_state(scope=CLASSIC_REQUIRED)
    assert state.kind == zoom.CLASSIC and not state.missing
    assert state.optional_names == ["dashboard_home:read:admin"]  # optional: overview only
    state = capability_state(scope="user:read:admin group:read:admin")
    assert state.missing_names == ["dashboard_meetings:read:admin",
                                   "dashboard_webinars:read:admin"]


def test_dashboard_read_admin_covers_every_dashboard_call():
    state = capability_state(scope="user:read:admin group:read:admin dashboard:read:admin")
    assert not state.missing and not state.optional_missing


def test_user_level_name_lets_users_me_through_and_mixed_tokens_are_granular():
    state = capability_state(scope=GRANULAR_ALL.replace("user:read:user:admin", "user:read:user"))
    assert "users_me" not in {c.key for c in state.missing}
    assert [c.key for c in state.missing] == ["user_get"]
    # One granular name among classic ones: the app is granular, names reported as granular.
    mixed = capability_state(scope="user:read:admin user:read:list_users:admin")
    assert mixed.kind == zoom.GRANULAR and QOS in mixed.missing_names


def test_meeting_read_admin_is_never_required():
    assert "meeting:read:admin" not in capability_state(scope="").missing_names
    assert not any("meeting:read:admin" in c.names for c in zoom.CAPABILITIES)


@pytest.mark.parametrize("scope", ["", "   ", None, 42, "\t\n", "nonsense foo:bar"])
def test_empty_or_unknown_scope_is_granular_and_lacks_everything(scope):
    state = capability_state(scope=scope)
    assert state.kind == zoom.GRANULAR
    assert len(state.missing) == sum(not c.optional for c in zoom.CAPABILITIES)


def test_odd_spacing_and_commas_are_read():
    state = capability_state(scope=f"\t{CLASSIC_REQUIRED.replace(' ', ' ,  ')}\n")
    assert state.kind == zoom.CLASSIC and not state.missing


KNOWN = sorted({n for c in zoom.CAPABILITIES for n in c.names})


@given(names=st.lists(st.sampled_from(KNOWN)), noise=st.lists(st.text(max_size=30)),
       sep=st.sampled_from([" ", "  ", "\t", "\n", ", "]))
def test_any_scope_string_gives_a_consistent_answer(names, noise, sep):
    state = capability_state(scope=sep.join(names + noise))
    assert state.kind in (zoom.GRANULAR, zoom.CLASSIC)
    granted = set(names)
    for capability in zoom.CAPABILITIES:
        lacking = capability in state.missing or capability in state.optional_missing
        # Missing exactly when none of its names was granted (noise may add a name by chance).
        if capability.names & granted:
            assert not lacking
        elif not any(n in "".join(noise) for n in capability.names):
            assert lacking
    assert len(set(state.missing_names)) == len(state.missing_names)


# -- Zoom's 4711 answer ---------------------------------------------------------------------------

@pytest.mark.parametrize(("message", "expected"), [
    (f"Invalid access token, does not contain scopes:[{QOS}].", [QOS]),
    ("Invalid access token, does not contain scopes:[a:read:b:admin, c:read:d:admin].",
     ["a:read:b:admin", "c:read:d:admin"]),
    ("does not contain scopes:[ 'x:read:y:admin' ,x:read:y:admin ]", ["x:read:y:admin"]),
    ("Invalid access token, does not contain scopes.", []),
    ("scopes:[]", []),
    ("scopes:[<script>, ok:read:z]", ["ok:read:z"]),
    (None, []),
])
def test_4711_message_parser(message, expected):
    assert zoom.missing_scopes_parse(message) == expected


@responses.activate
def test_client_raises_the_typed_error_with_zoom_names(connected):
    responses.get(f"{API}/metrics/meetings/abc/participants/qos", status=400, json={
        "code": 4711, "message": f"Invalid access token, does not contain scopes:[{QOS}]."})
    with ZoomClient(connected) as client, pytest.raises(ZoomScopeMissingError) as caught:
        list(client.dashboard_qos_pages("meeting", "abc"))
    assert caught.value.scopes == (QOS,) and caught.value.capability == "meeting_qos"
    assert len(responses.calls) == 1  # not retried


@responses.activate
def test_client_without_a_bracketed_list_names_the_call(connected):
    responses.get(f"{API}/groups", status=400,
                  json={"code": 4711, "message": "Invalid access token."})
    with ZoomClient(connected) as client, pytest.raises(ZoomScopeMissingError) as caught:
        client.groups_list()
    assert caught.value.scopes == () and caught.value.capability == "groups_list"


# -- code 300 ------------------------------------------------------------------------------------

@responses.activate
def test_code_300_is_an_expired_page_token_only_when_one_was_sent(connected):
    responses.get(f"{API}/users", json={"users": [], "next_page_token": "T2"})
    responses.get(f"{API}/users", status=400, json={"code": 300, "message": "Invalid token"})
    with ZoomClient(connected) as client, pytest.raises(ZoomTransientError):
        list(client.users_pages())
    assert parse_qs(urlsplit(responses.calls[1].request.url).query)["next_page_token"] == ["T2"]

    responses.get(f"{API}/metrics/webinars/w1", status=400,
                  json={"code": 300, "message": "Can not access webinar info."})
    with ZoomClient(connected) as client, pytest.raises(ZoomAPIError) as caught:
        client.dashboard_detail("webinar", "w1")
    assert not isinstance(caught.value, ZoomTransientError)


# -- parking and resuming ------------------------------------------------------------------------

def _granular(connected, scope=GRANULAR_ALL):
    conn = ZoomConnection.objects.get(tenant=connected)
    connection_capabilities_apply(conn, scope=scope, keep_refused=False)
    conn.save()
    return conn


@responses.activate
def test_a_4711_parks_the_fetch_and_records_the_capability(connected,
                                                           django_capture_on_commit_callbacks):
    _granular(connected)
    meeting = MeetingFactory(tenant=connected, uuid="m1", kind="meeting", fetch_status="scheduled")
    responses.get(f"{API}/metrics/meetings/m1", json={"uuid": "m1", "participants": 1})
    responses.get(f"{API}/metrics/meetings/m1/participants",
                  json={"participants": [], "next_page_token": ""})
    responses.get(f"{API}/metrics/meetings/m1/participants/qos", status=400, json={
        "code": 4711, "message": f"Invalid access token, does not contain scopes:[{QOS}]."})

    assert metrics_fetch_attempt(meeting_id=meeting.pk)["status"] == "no_scope"

    meeting.refresh_from_db()
    assert meeting.fetch_status == FetchStatus.NO_SCOPE
    assert meeting.last_error == (f"The app lacks scope {QOS}: add it in Zoom, then authorize "
                                  "again.")
    conn = ZoomConnection.objects.get(tenant=connected)
    assert conn.missing_capabilities == "meeting_qos" and conn.missing_scopes == QOS
    # A refresh keeps the refusal; only a new authorization clears it.
    connection_capabilities_apply(conn, scope=GRANULAR_ALL, keep_refused=True)
    assert conn.missing_scopes == QOS
    connection_capabilities_apply(conn, scope=GRANULAR_ALL, keep_refused=False)
    assert conn.missing_scopes == ""

    with django_capture_on_commit_callbacks() as queued:
        assert scope_parked_resume(tenant_id=connected.pk) == {"fetches": 1, "syncs": 0}
    assert len(queued) == 1
    meeting.refresh_from_db()
    assert meeting.fetch_status == FetchStatus.SCHEDULED


@responses.activate
def test_a_4711_without_names_records_the_failed_calls_capability_in_classic_names(connected):
    _granular(connected, scope=CLASSIC_REQUIRED)
    from zoom_integration.directory import tenant_directory_sync_attempt

    responses.get(f"{API}/groups", status=400, json={"code": 4711, "message": "No."})
    assert tenant_directory_sync_attempt(tenant_id=connected.pk)["status"] == "no_scope"
    run = SyncRun.objects.get(tenant=connected)
    assert run.status == SyncRun.Status.NO_SCOPE
    assert "group:read:admin" in run.error and "authorize again" in run.error
    conn = ZoomConnection.objects.get(tenant=connected)
    assert conn.missing_scopes == "group:read:admin"
    assert scope_parked_resume(tenant_id=connected.pk)["syncs"] == 1


# -- zoom_status ----------------------------------------------------------------------------------

def test_zoom_status_lines_and_json(connected):
    _granular(connected, scope=GRANULAR_ALL.replace(QOS, ""))
    other = TenantFactory(slug="zz-other")
    out = StringIO()
    call_command("zoom_status", "--json", stdout=out)
    lines = out.getvalue().strip().splitlines()
    report = {entry["slug"]: entry for entry in json.loads(lines[-1])}
    assert report[connected.slug]["health"] == "missing_scopes"
    assert report[connected.slug]["missing_scopes"] == [QOS]
    assert report[connected.slug]["zoom_account_id"] == connected.zoom_account_id
    assert report[other.slug]["health"] in ("awaiting_validation", "not_connected")
    assert report[other.slug]["missing_scopes"] == []
    assert any(line.startswith(connected.slug) and QOS in line for line in lines[:-1])

    out = StringIO()
    call_command("zoom_status", other.slug, stdout=out)
    assert len(out.getvalue().strip().splitlines()) == 1


def test_zoom_status_unknown_slug_is_one_clear_error(connected):
    with pytest.raises(CommandError, match="no tenant with slug 'nope'"):
        call_command("zoom_status", connected.slug, "nope")
