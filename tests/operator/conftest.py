"""Staff users with exactly the permissions a test grants."""

import pytest
from django.contrib.auth.models import Permission

PASSWORD = "pw-for-tests-only"


@pytest.fixture
def make_staff(django_user_model):
    def make(*perms: str, username: str = "staff"):
        user = django_user_model.objects.create_user(username=username, password=PASSWORD,
                                                     is_staff=True)
        for perm in perms:
            app_label, codename = perm.split(".")
            user.user_permissions.add(Permission.objects.get(
                content_type__app_label=app_label, codename=codename))
        return user
    return make


@pytest.fixture
def staff_client(client, make_staff):
    """A client logged in as a staff user with the given permissions, granted every tenant
    that exists at login (per-tenant staff access, portal_security), unless `tenants` says."""
    from portal_security.access import tenant_access_grant
    from tenants.models import Tenant

    def login(*perms: str, tenants=None):
        user = make_staff(*perms)
        for tenant in Tenant.objects.all() if tenants is None else tenants:
            tenant_access_grant(user=user, tenant=tenant)
        client.force_login(user)
        return client
    return login
