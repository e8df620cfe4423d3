"""Per-tenant permissions for staff in the admin: selectors and a ModelAdmin mixin.

Mix `TenantScopedAdminMixin` in FRONT of any ModelAdmin whose rows belong to a tenant:

    class TenantAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
        tenant_lookup = ""            # the model IS the tenant

    class DeliveryAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
        tenant_lookup = "tenant"      # default: a `tenant` foreign key

    class ParticipantAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
        tenant_lookup = "meeting__tenant"

Superusers are never restricted. Other staff see only rows of tenants granted to them by a
`TenantAccess`; change/delete also need `can_change`. Django's model permissions still apply
first: the mixin only ever narrows them.
"""

from __future__ import annotations

import functools

from django.contrib import admin, messages
from django.contrib.admin.utils import get_fields_from_path
from django.db.models import QuerySet

from tenants.models import Tenant

from .models import TenantAccess


def _unrestricted(user) -> bool:
    return bool(user.is_active and user.is_superuser)


def tenant_ids_granted(*, user, write: bool = False) -> QuerySet:
    """Ids of the tenants `user` may see (or change, with `write`), as a subquery."""
    grants = TenantAccess.objects.filter(user_id=user.pk)
    if write:
        grants = grants.filter(can_change=True)
    return grants.values("tenant_id")


def tenants_visible_to(*, user) -> QuerySet[Tenant]:
    if _unrestricted(user):
        return Tenant.objects.all()
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return Tenant.objects.none()
    return Tenant.objects.filter(pk__in=tenant_ids_granted(user=user))


def tenant_access_allows(*, user, tenant_id: int | None, write: bool = False) -> bool:
    if _unrestricted(user):
        return True
    if tenant_id is None or not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    grants = TenantAccess.objects.filter(user_id=user.pk, tenant_id=tenant_id)
    if write:
        grants = grants.filter(can_change=True)
    return grants.exists()


def tenant_access_grant(*, user, tenant: Tenant, can_change: bool = False) -> TenantAccess:
    access, _ = TenantAccess.objects.update_or_create(
        user=user, tenant=tenant, defaults={"can_change": can_change})
    return access


def tenant_write_action(action):
    """Wrap an admin action that changes something: it runs only on the selected rows whose
    tenant the user may change; the others are named in a message and left alone.

    Django checks an action's `permissions` once per model, not per row: without this, a
    view-only grant on one tenant would let its holder act on it.
    """

    @functools.wraps(action)
    def checked(modeladmin, request, queryset):
        if _unrestricted(request.user):
            return action(modeladmin, request, queryset)
        lookup = getattr(modeladmin, "tenant_lookup", "tenant")
        pk_lookup = f"{lookup}__pk" if lookup else "pk"
        writable = tenant_ids_granted(user=request.user, write=True)
        refused = queryset.exclude(**{f"{pk_lookup}__in": writable})
        refused_count = refused.count()
        if refused_count:
            names = ", ".join(str(obj) for obj in refused[:10])
            more = f" and {refused_count - 10} more" if refused_count > 10 else ""
            modeladmin.message_user(
                request, f"Not done for {refused_count} selected item(s) you may only view: "
                f"{names}{more}.", messages.ERROR)
        allowed = queryset.filter(**{f"{pk_lookup}__in": writable})
        if refused_count and not allowed.exists():
            return None
        return action(modeladmin, request, allowed)

    return checked


class TenantScopedAdminMixin:
    """Narrows a ModelAdmin to the tenants granted to the signed-in staff user."""

    #: Django lookup from the admin's model to the Tenant ("" when the model is Tenant).
    tenant_lookup = "tenant"

    def _tenant_pk_lookup(self) -> str:
        return f"{self.tenant_lookup}__pk" if self.tenant_lookup else "pk"

    def _tenant_id_of(self, obj) -> int | None:
        if not self.tenant_lookup:
            return obj.pk
        *path, last = self.tenant_lookup.split("__")
        for name in path:
            obj = getattr(obj, name, None)
            if obj is None:
                return None
        return getattr(obj, f"{last}_id", None)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if _unrestricted(request.user):
            return queryset
        return queryset.filter(
            **{f"{self._tenant_pk_lookup()}__in": tenant_ids_granted(user=request.user)})

    def _object_allowed(self, request, obj, *, write: bool) -> bool:
        if obj is None or _unrestricted(request.user):
            return True
        return tenant_access_allows(user=request.user, tenant_id=self._tenant_id_of(obj),
                                    write=write)

    def has_view_permission(self, request, obj=None):
        return (super().has_view_permission(request, obj)
                and self._object_allowed(request, obj, write=False))

    def has_change_permission(self, request, obj=None):
        return (super().has_change_permission(request, obj)
                and self._object_allowed(request, obj, write=True))

    def has_delete_permission(self, request, obj=None):
        return (super().has_delete_permission(request, obj)
                and self._object_allowed(request, obj, write=True))

    def has_add_permission(self, request, *args):
        allowed = super().has_add_permission(request, *args)
        # A new tenant would be invisible to its creator: only superusers create tenants.
        if not self.tenant_lookup:
            return allowed and _unrestricted(request.user)
        return allowed

    def get_list_filter(self, request):
        filters = super().get_list_filter(request)
        if _unrestricted(request.user):
            return filters
        # A plain filter on a tenant foreign key lists every tenant by name; offer only the
        # tenants that own rows this user may see.
        return [self._tenant_filter_scoped(spec) for spec in filters]

    def _tenant_filter_scoped(self, spec):
        # A spec is a field path, (field path, filter class), or a SimpleListFilter class.
        path, filter_class = spec if isinstance(spec, tuple | list) else (spec, None)
        if not isinstance(path, str) or filter_class not in (None, admin.RelatedFieldListFilter):
            return spec
        field = get_fields_from_path(self.model, path)[-1]
        related = getattr(field, "related_model", None)
        if related is not None and issubclass(related, Tenant):
            return (path, admin.RelatedOnlyFieldListFilter)
        return spec

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Tenant and not _unrestricted(request.user):
            kwargs["queryset"] = Tenant.objects.filter(
                pk__in=tenant_ids_granted(user=request.user, write=True))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
