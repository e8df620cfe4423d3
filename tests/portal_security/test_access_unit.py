"""portal_security.access at unit level: the selectors and the mixin's methods, no pages.

Fast enough for `make mutate` (the page-level walk of every admin is
test_admin_tenant_isolation.py).
"""

import pytest
from django.contrib import admin
from django.contrib.auth.models import AnonymousUser, Permission
from django.test import RequestFactory

from portal_security.access import (
    TenantScopedAdminMixin,
    tenant_access_allows,
    tenant_access_grant,
    tenant_ids_granted,
    tenants_visible_to,
)
from tenants.models import Tenant
from tests.factories import MeetingFactory, ParticipantFactory, TenantFactory, ZoomGroupFactory
from zoom_integration.models import ZoomGroup, ZoomParticipant

pytestmark = pytest.mark.django_db


class GroupAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    list_filter = ("tenant", "deleted_at", ("tenant", admin.RelatedFieldListFilter))


class ParticipantAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    tenant_lookup = "meeting__tenant"


class TenantRowsAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    tenant_lookup = ""


@pytest.fixture
def two():
    return TenantFactory(), TenantFactory()


@pytest.fixture
def make_user(django_user_model):
    def make(name="staff", *, staff=True, superuser=False, active=True, perms=("change",)):
        user = django_user_model.objects.create_user(username=name, is_staff=staff,
                                                     is_superuser=superuser, is_active=active)
        codenames = [f"{p}_{m}" for p in perms for m in ("zoomgroup", "zoomparticipant",
                                                           "tenant")] + [
            f"view_{m}" for m in ("zoomgroup", "zoomparticipant", "tenant")]
        user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
        return type(user).objects.get(pk=user.pk)  # fresh permission cache
    return make


def request_for(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def group_admin(cls=GroupAdmin, model=ZoomGroup):
    return cls(model, admin.site)


# --- selectors ----------------------------------------------------------------------------------

def test_ids_granted_and_write_grants(two, make_user):
    a, b = two
    user = make_user()
    tenant_access_grant(user=user, tenant=a)
    tenant_access_grant(user=user, tenant=b, can_change=True)
    assert set(tenant_ids_granted(user=user).values_list("tenant_id", flat=True)) == {a.pk, b.pk}
    assert list(tenant_ids_granted(user=user, write=True).values_list("tenant_id",
                                                                     flat=True)) == [b.pk]
    other = make_user("other")
    assert not tenant_ids_granted(user=other).exists()


def test_grant_updates_an_existing_grant(two, make_user):
    a, _ = two
    user = make_user()
    first = tenant_access_grant(user=user, tenant=a)
    assert first.can_change is False
    second = tenant_access_grant(user=user, tenant=a, can_change=True)
    assert second.pk == first.pk and second.can_change is True


def test_tenants_visible_to(two, make_user):
    a, b = two
    staff = make_user()
    tenant_access_grant(user=staff, tenant=a)
    assert list(tenants_visible_to(user=staff)) == [a]
    assert set(tenants_visible_to(user=make_user("root", superuser=True))) == {a, b}
    inactive_root = make_user("gone", superuser=True, active=False)
    tenant_access_grant(user=inactive_root, tenant=a)
    assert list(tenants_visible_to(user=inactive_root)) == []
    not_staff = make_user("plain", staff=False)
    tenant_access_grant(user=not_staff, tenant=a)
    assert list(tenants_visible_to(user=not_staff)) == []
    assert list(tenants_visible_to(user=AnonymousUser())) == []


def test_access_allows(two, make_user):
    a, b = two
    staff = make_user()
    tenant_access_grant(user=staff, tenant=a)
    assert tenant_access_allows(user=staff, tenant_id=a.pk) is True
    assert tenant_access_allows(user=staff, tenant_id=a.pk, write=True) is False
    assert tenant_access_allows(user=staff, tenant_id=b.pk) is False
    assert tenant_access_allows(user=staff, tenant_id=None) is False
    tenant_access_grant(user=staff, tenant=a, can_change=True)
    assert tenant_access_allows(user=staff, tenant_id=a.pk, write=True) is True
    root = make_user("root", superuser=True)
    assert tenant_access_allows(user=root, tenant_id=b.pk, write=True) is True
    assert tenant_access_allows(user=root, tenant_id=None) is True
    for user in (make_user("gone", active=False), make_user("plain", staff=False),
                 AnonymousUser()):
        if user.pk:
            tenant_access_grant(user=user, tenant=a, can_change=True)
        assert tenant_access_allows(user=user, tenant_id=a.pk) is False


# --- the mixin ----------------------------------------------------------------------------------

def test_queryset_is_scoped_for_staff_and_whole_for_superusers(two, make_user):
    a, b = two
    ga, gb = ZoomGroupFactory(tenant=a), ZoomGroupFactory(tenant=b)
    staff = make_user()
    tenant_access_grant(user=staff, tenant=a)
    assert list(group_admin().get_queryset(request_for(staff))) == [ga]
    root = make_user("root", superuser=True)
    assert set(group_admin().get_queryset(request_for(root))) == {ga, gb}
    assert list(group_admin().get_queryset(request_for(make_user("none")))) == []


def test_queryset_through_a_path_and_on_tenants_themselves(two, make_user):
    a, b = two
    pa = ParticipantFactory(meeting=MeetingFactory(tenant=a))
    ParticipantFactory(meeting=MeetingFactory(tenant=b))
    staff = make_user()
    tenant_access_grant(user=staff, tenant=a)
    assert list(group_admin(ParticipantAdmin, ZoomParticipant)
                .get_queryset(request_for(staff))) == [pa]
    assert list(group_admin(TenantRowsAdmin, Tenant).get_queryset(request_for(staff))) == [a]


def test_object_permissions_follow_the_grant(two, make_user):
    a, b = two
    ga, gb = ZoomGroupFactory(tenant=a), ZoomGroupFactory(tenant=b)
    staff = make_user(perms=("change", "delete"))
    tenant_access_grant(user=staff, tenant=a)
    request, model_admin = request_for(staff), group_admin()
    assert model_admin.has_view_permission(request, ga) is True
    assert model_admin.has_view_permission(request, gb) is False
    assert model_admin.has_view_permission(request) is True  # the list itself
    # A read grant: no change or delete of A's rows either.
    assert model_admin.has_change_permission(request, ga) is False
    assert model_admin.has_delete_permission(request, ga) is False
    assert model_admin.has_change_permission(request) is True
    tenant_access_grant(user=staff, tenant=a, can_change=True)
    assert model_admin.has_change_permission(request, ga) is True
    assert model_admin.has_delete_permission(request, ga) is True
    assert model_admin.has_change_permission(request, gb) is False
    assert model_admin.has_delete_permission(request, gb) is False
    root = request_for(make_user("root", superuser=True))
    assert model_admin.has_delete_permission(root, gb) is True


def test_model_permissions_still_apply_first(two, make_user):
    a, _ = two
    ga = ZoomGroupFactory(tenant=a)
    viewer = make_user(perms=())
    tenant_access_grant(user=viewer, tenant=a, can_change=True)
    request = request_for(viewer)
    assert group_admin().has_view_permission(request, ga) is True
    assert group_admin().has_change_permission(request, ga) is False
    assert group_admin().has_delete_permission(request, ga) is False


def test_object_tenant_through_paths(two, make_user):
    a, b = two
    pb = ParticipantFactory(meeting=MeetingFactory(tenant=b))
    staff = make_user()
    tenant_access_grant(user=staff, tenant=a)
    request = request_for(staff)
    participants = group_admin(ParticipantAdmin, ZoomParticipant)
    assert participants._tenant_id_of(pb) == b.pk
    assert participants.has_view_permission(request, pb) is False
    pa = ParticipantFactory(meeting=MeetingFactory(tenant=a))
    assert participants.has_view_permission(request, pa) is True
    tenants = group_admin(TenantRowsAdmin, Tenant)
    assert tenants._tenant_id_of(b) == b.pk
    assert tenants.has_view_permission(request, a) is True
    assert tenants.has_view_permission(request, b) is False
    # A broken path (no meeting loaded) is no tenant: refused.
    orphan = ZoomParticipant(meeting=None)
    assert participants._tenant_id_of(orphan) is None
    assert participants.has_view_permission(request, orphan) is False


def test_only_superusers_add_tenants_staff_may_add_tenant_rows(make_user):
    staff = make_user(perms=("add",))
    assert group_admin(TenantRowsAdmin, Tenant).has_add_permission(request_for(staff)) is False
    assert group_admin().has_add_permission(request_for(staff)) is True
    root = make_user("root", superuser=True)
    assert group_admin(TenantRowsAdmin, Tenant).has_add_permission(request_for(root)) is True
    assert group_admin().has_add_permission(request_for(make_user("x", perms=()))) is False


def test_tenant_choices_in_forms_are_the_write_grants(two, make_user):
    a, b = two
    c = TenantFactory()
    staff = make_user()
    tenant_access_grant(user=staff, tenant=a, can_change=True)
    tenant_access_grant(user=staff, tenant=b)  # read only: not a choice for a new row
    field = ZoomGroup._meta.get_field("tenant")
    form_field = group_admin().formfield_for_foreignkey(field, request_for(staff))
    assert list(form_field.queryset) == [a]
    root_field = group_admin().formfield_for_foreignkey(
        field, request_for(make_user("root", superuser=True)))
    assert set(root_field.queryset) == {a, b, c}


def test_form_fields_hand_the_request_on_to_django(make_user):
    # Django orders a foreign key's choices by the related admin's get_ordering(request); an
    # admin that orders by who is asking must get the request, not None.
    asked = []

    class TenantOrderedByUser(admin.ModelAdmin):
        def get_ordering(self, request):
            asked.append(request)
            return ("name",)

    site = admin.AdminSite(name="probe")
    site.register(Tenant, TenantOrderedByUser)
    request = request_for(make_user("root", superuser=True))
    GroupAdmin(ZoomGroup, site).formfield_for_foreignkey(
        ZoomGroup._meta.get_field("tenant"), request)
    assert asked == [request]


class _Recording(admin.ModelAdmin):
    """An admin below the mixin that records what reaches it (a project admin may read the
    request or the object where Django's own base ignores them)."""

    def __init__(self, *args):
        super().__init__(*args)
        self.seen = []

    def get_list_filter(self, request):
        self.seen.append(("list_filter", request))
        return super().get_list_filter(request)

    def has_add_permission(self, request, *args):
        self.seen.append(("add", request, *args))
        return super().has_add_permission(request)  # an inline's base would take the args

    def has_view_permission(self, request, obj=None):
        self.seen.append(("view", request, obj))
        return super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        self.seen.append(("change", request, obj))
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        self.seen.append(("delete", request, obj))
        return super().has_delete_permission(request, obj)


def test_the_mixin_hands_request_and_object_on_to_the_admin_below_it(two, make_user):
    class Probe(TenantScopedAdminMixin, _Recording):
        pass

    probe = Probe(ZoomGroup, admin.site)
    request = request_for(make_user("root", superuser=True))
    group = ZoomGroupFactory(tenant=two[0])
    probe.get_list_filter(request)
    probe.has_add_permission(request, group)  # inline admins pass the parent object
    probe.has_view_permission(request, group)
    probe.has_change_permission(request, group)
    probe.has_delete_permission(request, group)
    assert probe.seen == [("list_filter", request), ("add", request, group),
                          ("view", request, group), ("change", request, group),
                          ("delete", request, group)]


def test_tenant_list_filters_offer_only_visible_tenants(make_user):
    staff_filters = group_admin().get_list_filter(request_for(make_user()))
    assert staff_filters == [("tenant", admin.RelatedOnlyFieldListFilter), "deleted_at",
                             ("tenant", admin.RelatedOnlyFieldListFilter)]
    root_filters = group_admin().get_list_filter(request_for(make_user("root", superuser=True)))
    assert tuple(root_filters) == GroupAdmin.list_filter
