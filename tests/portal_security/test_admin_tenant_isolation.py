"""Tenant isolation in the admin, by behaviour, for every registered admin of tenant data.

The admins are discovered, not listed: each registered ModelAdmin whose model is a Tenant (or a
proxy of it) or reaches Tenant through foreign keys is tested. Tenants A and B both get one row
of every tenant-owned model; a staff user with every model permission but a grant for A only
then walks each admin: changelist, search (with B's own values), list filters (choices and B's
ids as values), change/history/delete pages of B's row, autocomplete, the admin's own extra
URLs (CSV export, checklist, buttons) and every action applied to B's row. Nothing of B may
show, and B's row must not change. A's row must show (so the test cannot pass vacuously).

A newly registered admin is covered without editing this file. If its model has no row builder
below, its test fails and says which builder to add.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import deque

import pytest
import responses
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.forms.models import model_to_dict
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from portal_security.access import tenant_access_grant
from portal_security.models import TenantAccess
from tenants.models import Tenant, TenantDomain
from tests.factories import (
    MeetingFactory,
    MembershipFactory,
    ParticipantFactory,
    SyncRunFactory,
    TenantFactory,
    ZoomConnectionFactory,
    ZoomGroupFactory,
    ZoomUserFactory,
    ZoomWebhookDeliveryFactory,
    add_samples,
    add_usage,
)
from zoom_integration.models import (
    ApiUsage,
    QosMinute,
    SyncRun,
    WebhookRejection,
    ZoomConnection,
    ZoomGroup,
    ZoomGroupMembership,
    ZoomMeeting,
    ZoomParticipant,
    ZoomUser,
    ZoomWebhookDelivery,
)
from zoom_integration.models.reconcile import ZoomAccountOverview, ZoomReconcileState

pytestmark = pytest.mark.django_db

A, B = "alphaqx", "bravoqx"  # in every text field of each tenant's rows; B's must never show
APPS = ("tenants", "zoom_integration", "portal_security")


# --- discovery ----------------------------------------------------------------------------------

def tenant_path(model, depth: int = 3) -> str | None:
    """Lookup from `model` to Tenant through forward foreign keys ("" when it is a Tenant)."""
    if issubclass(model, Tenant):
        return ""
    queue = deque([(model, "")])
    seen = {model}
    while queue:
        current, path = queue.popleft()
        if path.count("__") >= depth:
            continue
        for field in current._meta.get_fields():
            if not (field.is_relation and field.concrete and (field.many_to_one
                                                              or field.one_to_one)):
                continue
            target = field.related_model
            lookup = f"{path}__{field.name}" if path else field.name
            if target is not None and issubclass(target, Tenant):
                return lookup
            if target is not None and target not in seen:
                seen.add(target)
                queue.append((target, lookup))
    return None


def tenant_data_admins() -> list[tuple[type, admin.ModelAdmin]]:
    return sorted(((model, model_admin) for model, model_admin in admin.site._registry.items()
                   if tenant_path(model) is not None),
                  key=lambda pair: pair[0]._meta.label)


ADMINS = tenant_data_admins()


def test_discovery_finds_the_admins_of_tenant_data():
    labels = {model._meta.label for model, _ in ADMINS}
    assert {"tenants.Tenant", "zoom_integration.ZoomGroup", "zoom_integration.ZoomUser",
            "zoom_integration.ZoomMeeting", "zoom_integration.ZoomWebhookDelivery",
            "zoom_integration.SyncRun", "zoom_integration.WebhookRejection",
            "zoom_integration.TenantHealth", "portal_security.TenantAccess"} <= labels
    assert tenant_path(ZoomParticipant) == "meeting__tenant"
    assert tenant_path(QosMinute) in ("meeting__tenant", "participant__meeting__tenant")
    assert "auth.User" not in labels


# --- rows for both tenants ----------------------------------------------------------------------

def build_world(tenant: Tenant, mark: str) -> dict[type, object]:
    """One row of every tenant-owned model for `tenant`, with `mark` in its text fields."""
    rows: dict[type, object] = {Tenant: tenant, TenantDomain: tenant.domains.get()}
    rows[ZoomConnection] = ZoomConnectionFactory(tenant=tenant,
                                                 authorized_by_email=f"admin@{mark}.example")
    user = rows[ZoomUser] = ZoomUserFactory(tenant=tenant, email=f"{mark}-user@cust.example",
                                            display_name=f"{mark} user", zoom_id=f"U{mark}")
    group = rows[ZoomGroup] = ZoomGroupFactory(tenant=tenant, name=f"{mark} group",
                                               zoom_id=f"G{mark}")
    rows[ZoomGroupMembership] = MembershipFactory(group=group, user=user)
    rows[SyncRun] = SyncRunFactory(tenant=tenant, phase=f"{mark} phase")
    meeting = rows[ZoomMeeting] = MeetingFactory(
        tenant=tenant, topic=f"{mark} meeting", uuid=f"{mark}-uuid==", host_zoom_id=user.zoom_id,
        host_email=user.email, zoom_meeting_id=str(86000000000 + tenant.pk),
        end_time=timezone.now() - dt.timedelta(hours=1),
        start_time=timezone.now() - dt.timedelta(hours=2), worst_metric=f"{mark} worst",
        zoom_audio_quality="poor", zoom_video_quality="good", zoom_screen_share_quality="fair")
    participant = rows[ZoomParticipant] = ParticipantFactory(
        meeting=meeting, user=user, user_name=f"{mark} participant",
        email=f"{mark}-p@cust.example")
    rows[QosMinute] = add_samples(participant, minutes=2)[0]
    rows[ApiUsage] = add_usage(tenant, calls=5, category=f"{mark}"[:24])
    rows[ZoomWebhookDelivery] = ZoomWebhookDeliveryFactory(
        tenant=tenant, dedupe_key=f"meeting.ended:{mark}-uuid==", account_id=f"acct{mark}",
        body=json.dumps({"event": "meeting.ended", "payload": {"object": {"uuid": mark}}}),
        last_error=f"{mark} delivery error")
    rows[WebhookRejection] = WebhookRejection.objects.create(
        tenant=tenant, reason=f"{mark}_reason", day=timezone.now().date(), count=3,
        last_at=timezone.now())
    rows[ZoomReconcileState] = ZoomReconcileState.objects.create(
        tenant=tenant, last_error=f"{mark} reconcile error")
    rows[ZoomAccountOverview] = ZoomAccountOverview.objects.create(
        tenant=tenant, fetched_at=timezone.now(),
        client_versions={"client_versions": [{"client_version": f"{mark} 6.1",
                                              "total_count": 3}]})
    from django.contrib.auth import get_user_model

    someone = get_user_model().objects.create_user(username=f"{mark}-staff", is_staff=True,
                                                   email=f"{mark}@staff.example")
    rows[TenantAccess] = tenant_access_grant(user=someone, tenant=tenant)
    return rows


def row_for(world: dict, model) -> object:
    concrete = model._meta.concrete_model
    if concrete not in world:
        pytest.fail(f"No row builder for {model._meta.label}: add one to build_world() in "
                    f"{__name__} so its admin's tenant isolation is tested.")
    row = world[concrete]
    return model.objects.get(pk=row.pk) if model is not concrete else row


@pytest.fixture
def world():
    tenant_a = TenantFactory(name="Alphaqx Corp", slug=A, zoom_account_id=f"acct{A}")
    tenant_b = TenantFactory(name="Bravoqx Corp", slug=B, zoom_account_id=f"acct{B}")
    return {"a": build_world(tenant_a, A), "b": build_world(tenant_b, B)}


@pytest.fixture
def staff_a(client, django_user_model, world):
    """Every permission on the portal's models, but a tenant grant (with change) for A only."""
    user = django_user_model.objects.create_user(username="staff-a", password="pw-unused",
                                                 is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=APPS))
    tenant_access_grant(user=user, tenant=world["a"][Tenant], can_change=True)
    client.force_login(user)
    return client


# --- helpers ------------------------------------------------------------------------------------

def url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def assert_no_b(response, where: str) -> None:
    assert B not in body(response).lower(), f"{where}: tenant B's data is on the page"


def listed_pks(response) -> set | None:
    context = getattr(response, "context", None)
    changelist = context.get("cl") if context is not None else None
    return None if changelist is None else {obj.pk for obj in changelist.result_list}


def follow_once(client, response):
    if response.status_code in (301, 302):
        return client.get(response["Location"])
    return response


def snapshot(row) -> dict:
    fresh = type(row)._default_manager.filter(pk=row.pk).first()
    return {} if fresh is None else model_to_dict(fresh)


ids = [model._meta.label for model, _ in ADMINS]


# --- the test -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("model", "model_admin"), ADMINS, ids=ids)
@responses.activate  # nothing here may reach Zoom; an unexpected call fails loudly
def test_staff_granted_tenant_a_never_sees_or_touches_tenant_b(staff_a, world, model,
                                                               model_admin):
    client = staff_a
    row_a, row_b = row_for(world["a"], model), row_for(world["b"], model)
    before_b = snapshot(row_b)

    changelist = client.get(url(model, "changelist"))
    if changelist.status_code == 403:
        # An admin closed to this staff user altogether (e.g. superusers only): B is safe; so
        # must every other page be.
        for view in ("change", "history", "delete"):
            assert client.get(url(model, view, row_b.pk)).status_code in (302, 403, 404)
        assert snapshot(row_b) == before_b
        return
    assert changelist.status_code == 200
    assert_no_b(changelist, "changelist")
    pks = listed_pks(changelist)
    assert pks is not None and row_a.pk in pks and row_b.pk not in pks

    _check_objects_pages(client, model, row_a, row_b)
    _check_search(client, model, model_admin, row_a, row_b)
    _check_filters(client, model, changelist, world)
    _check_autocomplete(client, model, model_admin, row_a, row_b)
    _check_extra_urls(client, model, model_admin, row_a, row_b)
    _check_actions(client, model, changelist, row_b)
    assert snapshot(row_b) == before_b, "tenant B's row changed"


def _check_objects_pages(client, model, row_a, row_b):
    page_a = follow_once(client, client.get(url(model, "change", row_a.pk)))
    assert page_a.status_code == 200 and A in body(page_a).lower()
    for view in ("change", "history", "delete"):
        response = client.get(url(model, view, row_b.pk))
        assert response.status_code in (302, 403, 404), f"{view} page of B's row"
        assert_no_b(follow_once(client, response), f"{view} page of B's row")
    # Writes to B's row by URL: refused, whatever the admin's read-only settings.
    for view in ("change", "delete"):
        response = client.post(url(model, view, row_b.pk), {"post": "yes"})
        assert response.status_code in (302, 403, 404), f"POST {view} of B's row"


def _search_values(model, model_admin, row) -> list[str]:
    values = []
    for field in model_admin.search_fields:
        lookup = field.lstrip("^=@")
        found = model._default_manager.filter(pk=row.pk).values_list(lookup, flat=True)
        values += [str(v) for v in found if v not in (None, "")]
    return values


def _check_search(client, model, model_admin, row_a, row_b):
    if not model_admin.search_fields:
        return
    changelist = url(model, "changelist")
    for value in _search_values(model, model_admin, row_b):
        response = client.get(changelist, {"q": value})
        assert response.status_code == 200
        assert row_b.pk not in (listed_pks(response) or set()), f"search {value!r} found B"
    found_a = set()
    for value in _search_values(model, model_admin, row_a):
        found_a |= listed_pks(client.get(changelist, {"q": value})) or set()
    assert row_a.pk in found_a, "searching A's own values never finds A's row"


def _b_ids(world) -> set[int]:
    return {row.pk for row in world["b"].values()}


def _check_filters(client, model, changelist, world):
    cl = changelist.context["cl"]
    params = set()
    for spec in cl.filter_specs:
        params.update(spec.expected_parameters())
        for choice in spec.choices(cl):
            assert B not in str(choice.get("display", "")).lower(), (
                f"filter {spec.title!r} offers tenant B's data")
    row_b_pk = model._meta.concrete_model._default_manager.filter(
        pk__in=[r.pk for r in world["b"].values() if isinstance(r, model._meta.concrete_model)])
    b_rows = set(row_b_pk.values_list("pk", flat=True))
    for param in sorted(params):
        if param.endswith(("__gte", "__lt", "__isnull", "__day", "__month", "__year")):
            continue
        for value in sorted(_b_ids(world)):
            response = client.get(url(model, "changelist"), {param: value})
            if response.status_code == 302:  # "?e=1": the admin refused the value
                continue
            assert response.status_code == 200
            assert not (listed_pks(response) or set()) & b_rows, f"?{param}={value} listed B"
            assert_no_b(response, f"changelist ?{param}={value}")


def _check_autocomplete(client, model, model_admin, row_a, row_b):
    if not model_admin.search_fields:
        return
    # Any model field pointing at this admin's model can ask the autocomplete view for it.
    sources = [(source, field) for source in apps.get_models()
               for field in source._meta.get_fields()
               if field.is_relation and field.concrete and field.related_model is model
               and (field.many_to_one or field.one_to_one)]
    for source, field in sources[:2]:
        seen = set()
        for term in ["", *_search_values(model, model_admin, row_b)]:
            response = client.get(reverse("admin:autocomplete"), {
                "term": term, "app_label": source._meta.app_label,
                "model_name": source._meta.model_name, "field_name": field.name})
            if response.status_code in (403, 404):
                continue
            assert response.status_code == 200
            ids_found = {str(item["id"]) for item in response.json()["results"]}
            assert str(row_b.pk) not in ids_found, f"autocomplete {term!r} offered B"
            assert B not in response.content.decode().lower()
            seen |= ids_found
        if seen:
            assert str(row_a.pk) in seen


def _extra_urls(model_admin) -> list:
    default = {p.name for p in admin.ModelAdmin.get_urls(model_admin)}
    return [p for p in model_admin.get_urls() if p.name and p.name not in default]


def _check_extra_urls(client, model, model_admin, row_a, row_b):
    for pattern in _extra_urls(model_admin):
        try:
            target = reverse(f"admin:{pattern.name}", args=[row_b.pk])
            per_object = True
        except NoReverseMatch:
            target = reverse(f"admin:{pattern.name}")
            per_object = False
        for method in ("get", "post"):
            response = getattr(client, method)(target)
            if per_object:
                assert response.status_code in (302, 403, 404, 405), (
                    f"{method.upper()} {pattern.name} for B's row")
            assert_no_b(follow_once(client, response), f"{method.upper()} {pattern.name}")
        if not per_object:
            page = follow_once(client, client.get(target))
            assert page.status_code != 200 or A in body(page).lower(), (
                f"{pattern.name} does not show A's data: is the check meaningful?")


def _check_actions(client, model, changelist, row_b):
    actions = changelist.context["cl"].model_admin.get_actions(changelist.wsgi_request)
    for name in actions:
        response = client.post(url(model, "changelist"), {
            "action": name, "_selected_action": [str(row_b.pk)], "index": "0",
            "post": "yes"})
        assert response.status_code in (200, 302), f"action {name}"
        assert_no_b(follow_once(client, response), f"action {name} on B's row")
        assert model._meta.concrete_model._default_manager.filter(pk=row_b.pk).exists(), (
            f"action {name} deleted B's row")


# --- the one that slipped through: Zoom groups --------------------------------------------------

def test_zoom_group_list_holds_only_the_granted_tenants_groups(staff_a, world):
    response = staff_a.get(reverse("admin:zoom_integration_zoomgroup_changelist"))
    assert response.status_code == 200
    assert listed_pks(response) == {world["a"][ZoomGroup].pk}
    page = response.content.decode()
    assert "alphaqx group" in page and "bravoqx group" not in page
