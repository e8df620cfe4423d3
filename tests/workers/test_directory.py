"""User and group sync (bulk, bounded queries, deleted marking) and user.* events."""

from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.db import connection
from django.test.utils import CaptureQueriesContext

from zoom_integration.directory import (
    zoom_directory_sync,
    zoom_groups_sync,
    zoom_user_event_apply,
    zoom_users_sync,
)
from zoom_integration.models import SyncRun, ZoomGroup, ZoomGroupMembership, ZoomUser

from .conftest import API

pytestmark = pytest.mark.django_db


def _user(i, status="active", groups=("G1",)):
    return {"id": f"U{i}", "email": f"user{i}@cust.example", "first_name": f"F{i}",
            "last_name": f"L{i}", "type": 1 + i % 2, "status": status, "dept": "Sales",
            "group_ids": list(groups), "created_at": "2024-01-02T03:04:05Z",
            "last_login_time": "2026-05-28T08:00:00Z"}


def _serve_users(by_status: dict[str, list[dict]], page_size: int = 300):
    """Registers Zoom's pages for each status, following next_page_token."""
    def callback(request):
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        users = by_status.get(query.get("status", "active"), [])
        start = int(query.get("next_page_token") or 0)
        size = int(query["page_size"])
        page = users[start:start + size]
        token = str(start + size) if start + size < len(users) else ""
        import json
        return 200, {}, json.dumps({"users": page, "next_page_token": token,
                                    "total_records": len(users), "page_size": size})
    responses.add_callback(responses.GET, f"{API}/users", callback=callback)


def _serve_groups(groups):
    responses.get(f"{API}/groups", json={"groups": groups, "total_records": len(groups)})


@responses.activate
def test_users_of_every_status_are_synced_in_bulk(connected):
    _serve_groups([{"id": "G1", "name": "Sales", "total_members": 650}])
    zoom_groups_sync(tenant=connected, members=False)
    active = [_user(i) for i in range(650)]
    _serve_users({"active": active, "inactive": [_user(1000, "inactive")],
                  "pending": [{"email": "new@cust.example", "status": "pending"}]})
    seen = []
    run = zoom_users_sync(tenant=connected, progress=lambda done, total: seen.append(done))
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.users_seen == 652
    assert ZoomUser.objects.filter(tenant=connected).count() == 652
    assert ZoomUser.objects.get(zoom_id="U1000").status == "inactive"
    pending = ZoomUser.objects.get(zoom_id="email:new@cust.example")  # no id: keyed by email
    assert pending.status == "pending"
    ana = ZoomUser.objects.get(zoom_id="U3")
    assert (ana.email, ana.display_name, ana.user_type) == ("user3@cust.example", "F3 L3", 2)
    assert ZoomGroupMembership.objects.filter(group__zoom_id="G1").count() == 651
    users_calls = [c for c in responses.calls if "/users" in c.request.url]
    assert len(users_calls) == 5  # 3 active pages of 300 + inactive + pending
    assert seen[-1] == 652 and seen == sorted(seen)


@responses.activate
def test_queries_per_page_are_bounded(connected, django_assert_max_num_queries):
    _serve_groups([{"id": "G1", "name": "Sales"}, {"id": "G2", "name": "Ops"}])
    zoom_groups_sync(tenant=connected, members=False)
    _serve_users({"active": [_user(i, groups=("G1", "G2")) for i in range(1200)]})
    with CaptureQueriesContext(connection) as small:
        zoom_users_sync(tenant=connected)
    # 4x the users (4 pages instead of 1 when cut down): queries grow by a fixed few per page.
    responses.reset()
    _serve_users({"active": [_user(i, groups=("G1", "G2")) for i in range(300)]})
    with CaptureQueriesContext(connection) as one_page:
        zoom_users_sync(tenant=connected)
    # Per page: BEGIN, upsert users, upsert memberships, progress, COMMIT.
    per_page = (len(small) - len(one_page)) / 3
    assert per_page <= 5, per_page
    with django_assert_max_num_queries(len(one_page) + 3 * 5):
        responses.reset()
        _serve_users({"active": [_user(i, groups=("G1", "G2")) for i in range(1200)]})
        zoom_users_sync(tenant=connected)


@responses.activate
def test_users_no_longer_returned_are_marked_deleted_not_dropped(connected):
    _serve_groups([{"id": "G1", "name": "Sales"}])
    zoom_groups_sync(tenant=connected, members=False)
    _serve_users({"active": [_user(1), _user(2), _user(3)]})
    zoom_users_sync(tenant=connected)
    responses.reset()
    _serve_users({"active": [_user(1), _user(3, groups=())]})
    run = zoom_users_sync(tenant=connected)
    assert run.users_marked_deleted == 1
    gone = ZoomUser.objects.get(zoom_id="U2")
    assert gone.deleted_at is not None
    assert ZoomUser.objects.filter(tenant=connected, deleted_at__isnull=True).count() == 2
    # U3 left the group: its membership is gone; U1's stays.
    assert set(ZoomGroupMembership.objects.values_list("user__zoom_id", flat=True)) == {"U1"}
    # Back again: undeleted.
    responses.reset()
    _serve_users({"active": [_user(1), _user(2), _user(3)]})
    zoom_users_sync(tenant=connected)
    assert ZoomUser.objects.get(zoom_id="U2").deleted_at is None


@responses.activate
def test_a_failed_sync_marks_nobody_deleted(connected, settings):
    settings.ZOOM_HTTP_MAX_RETRIES = 0
    _serve_users({"active": [_user(1), _user(2)]})
    zoom_users_sync(tenant=connected)
    responses.reset()
    responses.get(f"{API}/users", json={"users": [_user(1)], "next_page_token": ""})
    responses.get(f"{API}/users", status=500)
    from zoom_integration.exceptions import ZoomTransientError

    with pytest.raises(ZoomTransientError):
        zoom_users_sync(tenant=connected)
    run = SyncRun.objects.filter(tenant=connected).first()
    assert run.status == SyncRun.Status.FAILED and "ZoomTransientError" in run.error
    assert ZoomUser.objects.filter(deleted_at__isnull=False).count() == 0


@responses.activate
def test_groups_with_members_and_deleted_groups(connected):
    _serve_users({"active": [_user(i, groups=()) for i in range(5)]})
    zoom_users_sync(tenant=connected)
    _serve_groups([{"id": "G1", "name": "Sales", "total_members": 3},
                   {"id": "G2", "name": "Ops", "total_members": 1}])
    responses.get(f"{API}/groups/G1/members",
                  json={"members": [{"id": "U0"}, {"id": "U1"}], "next_page_token": "p2"})
    responses.get(f"{API}/groups/G1/members",
                  json={"members": [{"id": "U2"}], "next_page_token": ""})
    responses.get(f"{API}/groups/G2/members", json={"members": [{"id": "U4"}]})
    run = zoom_groups_sync(tenant=connected)
    assert run.status == SyncRun.Status.SUCCEEDED and run.groups_seen == 2
    members = set(ZoomGroupMembership.objects.values_list("group__zoom_id", "user__zoom_id"))
    assert members == {("G1", "U0"), ("G1", "U1"), ("G1", "U2"), ("G2", "U4")}
    responses.reset()
    _serve_groups([{"id": "G1", "name": "Sales (EU)", "total_members": 1}])
    responses.get(f"{API}/groups/G1/members", json={"members": [{"id": "U1"}]})
    zoom_groups_sync(tenant=connected)
    assert ZoomGroup.objects.get(zoom_id="G2").deleted_at is not None
    assert ZoomGroup.objects.get(zoom_id="G1").name == "Sales (EU)"
    assert set(ZoomGroupMembership.objects.filter(group__zoom_id="G1")
               .values_list("user__zoom_id", flat=True)) == {"U1"}


@responses.activate
def test_full_directory_sync_needs_no_members_calls(connected):
    _serve_groups([{"id": "G1", "name": "Sales"}])
    _serve_users({"active": [_user(i) for i in range(10)]})
    runs = zoom_directory_sync(tenant=connected)
    assert [r.kind for r in runs] == ["groups", "users"]
    assert not [c for c in responses.calls if "/members" in c.request.url]
    assert ZoomGroupMembership.objects.count() == 10


def test_user_created_updated_deleted(tenant):
    payload = {"account_id": "A", "creation_type": "create",
               "object": {"id": "Nn4Tt7", "first_name": "Ana", "last_name": "Ruiz",
                          "display_name": "Ana Ruiz", "email": "ana@cust.example", "type": 1}}
    zoom_user_event_apply(tenant=tenant, event="user.created", payload=payload, event_ts=1000)
    user = ZoomUser.objects.get(tenant=tenant, zoom_id="Nn4Tt7")
    assert (user.email, user.display_name, user.user_type) == ("ana@cust.example", "Ana Ruiz", 1)

    zoom_user_event_apply(tenant=tenant, event="user.updated", event_ts=2000, payload={
        "object": {"id": "Nn4Tt7", "dept": "Sales"}, "old_object": {"id": "Nn4Tt7", "dept": ""}})
    user.refresh_from_db()
    assert user.dept == "Sales" and user.email == "ana@cust.example"  # a patch, not a reset

    # An older update arriving late changes nothing.
    zoom_user_event_apply(tenant=tenant, event="user.updated", event_ts=1500,
                          payload={"object": {"id": "Nn4Tt7", "dept": "Support"}})
    user.refresh_from_db()
    assert user.dept == "Sales"

    zoom_user_event_apply(tenant=tenant, event="user.deleted", event_ts=3000,
                          payload={"object": {"id": "Nn4Tt7", "email": "ana@cust.example"}})
    user.refresh_from_db()
    assert user.deleted_at is not None
    assert ZoomUser.objects.filter(tenant=tenant).count() == 1


def test_a_late_user_created_fills_only_what_the_newer_update_left_empty(tenant):
    zoom_user_event_apply(tenant=tenant, event="user.updated", event_ts=2000,
                          payload={"object": {"id": "Late1", "dept": "Sales"}})
    zoom_user_event_apply(tenant=tenant, event="user.created", event_ts=1000, payload={
        "object": {"id": "Late1", "first_name": "Ana", "email": "ana@cust.example",
                   "dept": "Onboarding"}})
    user = ZoomUser.objects.get(tenant=tenant, zoom_id="Late1")
    assert (user.email, user.first_name) == ("ana@cust.example", "Ana")
    assert user.dept == "Sales"  # the newer value stays
    assert user.last_event_ts == 2000


def test_user_updated_for_an_unknown_user_creates_it(tenant):
    zoom_user_event_apply(tenant=tenant, event="user.updated", event_ts=None,
                          payload={"object": {"id": "X1", "email": "x@cust.example"}})
    assert ZoomUser.objects.get(tenant=tenant, zoom_id="X1").email == "x@cust.example"


def test_user_event_without_object_is_a_clear_error(tenant):
    with pytest.raises(ValueError, match="no object"):
        zoom_user_event_apply(tenant=tenant, event="user.updated", payload={}, event_ts=None)


@responses.activate
def test_odd_zoom_values_are_stored_not_crashed_on(connected):
    odd = {"id": "U\x00odd", "email": "x" * 400, "first_name": "Ana\x00", "type": "weird",
           "created_at": "not a date", "group_ids": None, "dept": 12}
    _serve_users({"active": [odd, "not a user", {"status": "active"}]})
    run = zoom_users_sync(tenant=connected)
    assert run.status == SyncRun.Status.SUCCEEDED
    user = ZoomUser.objects.get(tenant=connected)
    assert (user.zoom_id, user.first_name, user.user_type, user.zoom_created_at, user.dept) == (
        "Uodd", "Ana", None, None, "12")
    assert len(user.email) == 254
