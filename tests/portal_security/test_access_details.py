"""portal_security.access details that mutation testing found unreached: the "By tenant" sidebar
filter `VisibleTenantListFilter`, as a ModelAdmin's change list builds it.

Fast enough for `make mutate` (no pages, no HTTP).
"""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import RequestFactory

from portal_security.access import (
    TenantScopedAdminMixin,
    VisibleTenantListFilter,
    tenant_access_grant,
)
from tests.factories import TenantFactory, ZoomGroupFactory
from zoom_integration.models import ZoomGroup

pytestmark = pytest.mark.django_db


class GroupsByVisibleTenantAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    list_filter = (("tenant", VisibleTenantListFilter),)


def user_with_group_view(django_user_model, name, *, superuser=False):
    user = django_user_model.objects.create_user(username=name, is_staff=True,
                                                 is_superuser=superuser)
    user.user_permissions.set(Permission.objects.filter(codename="view_zoomgroup"))
    return type(user).objects.get(pk=user.pk)  # fresh permission cache


def tenant_filter_choices(user):
    request = RequestFactory().get("/admin/zoom_integration/zoomgroup/")
    request.user = user
    changelist = GroupsByVisibleTenantAdmin(ZoomGroup, admin.site).get_changelist_instance(request)
    [spec] = changelist.filter_specs
    assert isinstance(spec, VisibleTenantListFilter)
    return spec.lookup_choices


@pytest.fixture
def tenants():
    # Created out of name order, so an order by primary key would show.
    zulu = TenantFactory(name="Zulu Radio")
    hidden = TenantFactory(name="Mike Hidden")
    alpha = TenantFactory(name="Alpha Clinic")
    for tenant in (zulu, hidden, alpha):
        ZoomGroupFactory(tenant=tenant)
    return zulu, hidden, alpha


def test_the_tenant_filter_offers_staff_their_granted_tenants_by_name(django_user_model,
                                                                      tenants):
    zulu, _hidden, alpha = tenants
    staff = user_with_group_view(django_user_model, "staff")
    tenant_access_grant(user=staff, tenant=zulu)
    tenant_access_grant(user=staff, tenant=alpha)
    # (value, label) pairs: the tenant's id selects it, its name is shown.
    assert tenant_filter_choices(staff) == [(alpha.pk, "Alpha Clinic"), (zulu.pk, "Zulu Radio")]


def test_the_tenant_filter_offers_superusers_every_tenant_by_name(django_user_model, tenants):
    zulu, hidden, alpha = tenants
    root = user_with_group_view(django_user_model, "root", superuser=True)
    assert tenant_filter_choices(root) == [(alpha.pk, "Alpha Clinic"),
                                           (hidden.pk, "Mike Hidden"), (zulu.pk, "Zulu Radio")]
