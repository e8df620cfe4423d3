"""group.* and user status events applied to the directory; Zoom (faked with `responses`) is asked
only for what an event lacks."""

import pytest
import responses

from zoom_integration.directory import zoom_group_event_apply, zoom_user_event_apply
from zoom_integration.models import ZoomGroup, ZoomGroupMembership, ZoomUser

from .conftest import API

pytestmark = pytest.mark.django_db


def _user(tenant, zoom_id, **kw):
    return ZoomUser.objects.create(tenant=tenant, zoom_id=zoom_id, email=f"{zoom_id}@x.test",
                                   status="active", **kw)


@responses.activate
def test_group_lifecycle_from_events_alone_calls_zoom_never(connected):
    ana, bo = _user(connected, "U1"), _user(connected, "U2")
    zoom_group_event_apply(tenant=connected, event="group.created",
                           payload={"object": {"id": "G1", "name": "Sales"}})
    zoom_group_event_apply(tenant=connected, event="group.updated",
                           payload={"object": {"id": "G1", "name": "Sales EMEA"}})
    zoom_group_event_apply(tenant=connected, event="group.member_added", payload={
        "object": {"id": "G1", "members": [{"id": "U1", "email": "U1@x.test"},
                                           {"id": "U2", "email": "U2@x.test"}]}})
    group = ZoomGroup.objects.get(tenant=connected, zoom_id="G1")
    assert group.name == "Sales EMEA" and group.total_members == 2
    zoom_group_event_apply(tenant=connected, event="group.member_deleted", payload={
        "object": {"id": "G1", "members": [{"id": "U1"}]}})
    assert list(ZoomGroupMembership.objects.filter(group=group).values_list("user", flat=True)) \
        == [bo.pk]
    zoom_user_event_apply(tenant=connected, event="user.disassociated",
                          payload={"object": {"id": "U2", "email": "U2@x.test"}}, event_ts=10)
    bo.refresh_from_db()
    assert bo.deleted_at is not None and not ZoomGroupMembership.objects.exists()
    zoom_group_event_apply(tenant=connected, event="group.deleted",
                           payload={"object": {"id": "G1", "name": "Sales EMEA"}})
    group.refresh_from_db()
    assert group.deleted_at is not None
    ana.refresh_from_db()
    assert ana.deleted_at is None
    assert len(responses.calls) == 0


@responses.activate
def test_unknown_group_and_member_are_read_from_zoom(connected):
    responses.get(f"{API}/groups", json={"groups": [{"id": "G9", "name": "Ops",
                                                     "total_members": 1}]})
    responses.get(f"{API}/users/U9", json={"id": "U9", "email": "u9@x.test",
                                           "first_name": "Uma", "last_name": "Nine",
                                           "status": "active", "type": 1})
    zoom_group_event_apply(tenant=connected, event="group.member_added", payload={
        "object": {"id": "G9", "members": [{"id": "U9", "email": "u9@x.test"}]}})
    group = ZoomGroup.objects.get(tenant=connected, zoom_id="G9")
    assert group.name == "Ops" and group.total_members == 1
    user = ZoomUser.objects.get(tenant=connected, zoom_id="U9")
    assert user.first_name == "Uma" and user.memberships.get().group == group
    assert len(responses.calls) == 2


@responses.activate
def test_a_refused_lookup_keeps_what_the_event_has(connected):
    responses.get(f"{API}/groups", status=400, json={
        "code": 4711, "message": "Invalid access token, does not contain "
                                 "scopes:[group:read:list_groups:admin]."})
    zoom_group_event_apply(tenant=connected, event="group.updated",
                           payload={"object": {"id": "G5", "description": "x"}})
    assert ZoomGroup.objects.get(tenant=connected, zoom_id="G5").name == ""
    conn = connected.zoom_connection
    conn.refresh_from_db()
    assert conn.missing_scopes == "group:read:list_groups:admin"


@pytest.mark.parametrize(("event", "status"), [("user.deactivated", "inactive"),
                                               ("user.activated", "active")])
def test_status_events_set_the_status(connected, event, status):
    user = _user(connected, "U3")
    zoom_user_event_apply(tenant=connected, event=event,
                          payload={"object": {"id": "U3", "email": "U3@x.test"}}, event_ts=5)
    user.refresh_from_db()
    assert user.status == status and user.deleted_at is None
