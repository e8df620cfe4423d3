"""The Tenant admin, composed and registered here, in one place.

    ZoomTenantAdmin = TenantScopedAdminMixin   (portal_security: per-tenant staff grants)
                    + TenantAdmin              (tenants: hostnames, write-only secrets, URLs)
                    + the Zoom connection      (this module: state, customer link, actions)
                    + TenantAccessInline       (portal_security: superusers grant access)

Nothing here shows a token: only state, account, scopes and times. Test connection, Revoke and
Sync now exist as changelist actions (several tenants at once) and as object tools on the
change page (small forms of their own beside History, so they never submit the tenant form);
every one of them acts only on tenants the user may change, and view-only users get no tools.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from nectar_portal.display import when
from portal_security.access import TenantScopedAdminMixin, tenant_write_action
from portal_security.admin import TenantAccessInline
from tenants.admin import TenantAdmin, copyable
from tenants.models import Tenant
from tenants.selectors import tenant_zoom_urls

from .. import oauth
from ..capabilities import connection_capability_state, scope_missing_message
from ..exceptions import ReauthorizationRequiredError, ZoomAPIError, ZoomTransientError
from ..models import ConnectionState
from .directory import sync_now


def _connection(tenant: Tenant):
    try:
        return tenant.zoom_connection
    except Tenant.zoom_connection.RelatedObjectDoesNotExist:
        return None


def _missing_text(conn) -> str:
    """The capabilities the app lacks, named in its own kind's scope names."""
    state = connection_capability_state(conn)
    text = (scope_missing_message(state.missing_names) + " (for: "
            + ", ".join(c.label for c in state.missing) + ")") if state.missing else "none"
    if state.optional_missing and conn.scopes:
        text += "; optional, not granted: " + ", ".join(state.optional_names)
    return text


def _state_label(tenant: Tenant) -> str:
    conn = _connection(tenant)
    return conn.get_state_display() if conn else ConnectionState.NOT_CONNECTED.label


class ZoomTenantAdmin(TenantScopedAdminMixin, TenantAdmin):
    tenant_lookup = ""  # the rows are tenants
    list_display = (*TenantAdmin.list_display, "zoom_connection_state")
    readonly_fields = (*TenantAdmin.readonly_fields, "zoom_connection_details",
                       "zoom_customer_link", "zoom_operations")
    fieldsets = (
        (None, {"fields": ("zoom_operations",)}),
        *TenantAdmin.fieldsets,
        ("Zoom connection (customer authorization)", {
            "fields": ("zoom_connection_details", "zoom_customer_link"),
            "description": "Send the customer link to the customer: it opens Zoom's consent "
                           "page for their app and brings them back here.",
        }),
    )
    actions = ["test_zoom_connection", "revoke_zoom_connection", sync_now,
               "forget_zoom_account"]
    # Superusers grant staff access to this tenant from its own page.
    inlines = [*TenantAdmin.inlines, TenantAccessInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("zoom_connection")

    # --- read-only fields ---------------------------------------------------------------------

    @admin.display(description="Zoom connection")
    def zoom_connection_state(self, tenant):
        return _state_label(tenant)

    @admin.display(description="Connection")
    def zoom_connection_details(self, tenant):
        conn = _connection(tenant) if tenant.pk else None
        if conn is None:
            return "Not connected: the customer has not authorized the app yet."
        rows = [
            ("State", conn.get_state_display()),
            ("Zoom account ID", tenant.zoom_account_id or "—"),
            ("Authorized by", " ".join(filter(None, [conn.authorized_by_email,
                                                     f"at {when(conn.authorized_at)}"
                                                     if conn.authorized_at else ""])) or "—"),
            ("Granted scopes", f"{conn.scopes} ({conn.scope_kind or 'granular'} app)"
             if conn.scopes else "—"),
            ("Missing scopes", _missing_text(conn)),
            ("Access token expires", when(conn.access_token_expires_at)),
            ("Last refresh", when(conn.last_refreshed_at)),
            ("Last error", conn.last_error or "none"),
        ]
        return format_html('<table class="zoom-connection">{}</table>', format_html_join(
            "", "<tr><th>{}</th><td>{}</td></tr>", rows))

    @admin.display(description="Setup and data")
    def zoom_operations(self, tenant):
        """Where staff go next: the setup checklist and this customer's Zoom data."""
        if not tenant.pk:
            return "Save the tenant to get its setup checklist."
        conn = _connection(tenant)
        validated = (f"Zoom validated the event endpoint at "
                     f"{when(conn.endpoint_validated_at)}"
                     if conn and conn.endpoint_validated_at
                     else "Zoom has not validated the event endpoint yet")
        links = [
            (reverse("admin:zoom_integration_tenanthealth_checklist", args=[tenant.pk]),
             "Setup checklist"),
            (reverse("admin:zoom_integration_zoommeeting_changelist")
             + f"?tenant__id__exact={tenant.pk}", "Meeting quality"),
            (reverse("admin:zoom_integration_zoomwebhookdelivery_changelist")
             + f"?tenant__id__exact={tenant.pk}", "Webhook deliveries"),
            (reverse("admin:zoom_integration_syncrun_changelist")
             + f"?tenant__id__exact={tenant.pk}", "Directory syncs"),
        ]
        return format_html("{}<div>{}</div>", format_html_join(
            " · ", '<a href="{}">{}</a>', links), validated)

    @admin.display(description="Customer link")
    def zoom_customer_link(self, tenant):
        return copyable(tenant_zoom_urls(tenant=tenant).oauth_start_url if tenant.pk else None)

    # --- actions ------------------------------------------------------------------------------

    def _test_one(self, request, tenant: Tenant) -> None:
        try:
            result = oauth.connection_test(tenant=tenant)
        except ReauthorizationRequiredError:
            self.message_user(request, f"{tenant}: not connected or needs re-authorization; "
                              "send the customer link.", messages.WARNING)
        except ZoomTransientError as exc:
            self.message_user(request, f"{tenant}: Zoom did not answer ({exc}); try again.",
                              messages.ERROR)
        except ZoomAPIError as exc:
            self.message_user(request, f"{tenant}: Zoom refused the call ({exc}).",
                              messages.ERROR)
        else:
            level = messages.SUCCESS if result["account_matches"] else messages.WARNING
            note = "" if result["account_matches"] else " (differs from the stored account!)"
            self.message_user(request, f"{tenant}: connection works; Zoom account "
                              f"{result['account_id']}{note}, user {result['email']}.", level)

    def _revoke_one(self, request, tenant: Tenant) -> None:
        try:
            oauth.connection_revoke(tenant=tenant)
        except ZoomAPIError as exc:
            self.message_user(request, f"{tenant}: tokens deleted here, but Zoom did not "
                              f"confirm the revocation ({exc}).", messages.WARNING)
        else:
            self.message_user(request, f"{tenant}: Zoom authorization revoked and tokens "
                              "deleted.", messages.SUCCESS)

    @tenant_write_action
    @admin.action(description="Test Zoom connection", permissions=["change"])
    def test_zoom_connection(self, request, queryset):
        for tenant in queryset:
            self._test_one(request, tenant)

    @tenant_write_action
    @admin.action(description="Revoke Zoom authorization", permissions=["change"])
    def revoke_zoom_connection(self, request, queryset):
        for tenant in queryset:
            self._revoke_one(request, tenant)

    def has_forget_permission(self, request):
        # Re-binding a customer to another Zoom account is a superuser's decision.
        return request.user.is_active and request.user.is_superuser

    @admin.action(description="Disconnect and forget the Zoom account", permissions=["forget"])
    def forget_zoom_account(self, request, queryset):
        for tenant in queryset:
            account = tenant.zoom_account_id or "none"
            try:
                oauth.connection_forget(tenant=tenant)
            except ZoomAPIError as exc:
                note = f" Zoom did not confirm the revocation ({exc})."
            else:
                note = ""
            self.log_change(request, tenant, f"Disconnected from Zoom and forgot Zoom account "
                                             f"{account}; another account can now be connected.")
            self.message_user(request, f"{tenant}: disconnected; Zoom account {account} "
                              f"forgotten.{note}", messages.WARNING if note else messages.SUCCESS)

    # --- change-page buttons ------------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/zoom-test/", wrap(self.zoom_test_view),
                 name="tenants_tenant_zoom_test"),
            path("<path:object_id>/zoom-revoke/", wrap(self.zoom_revoke_view),
                 name="tenants_tenant_zoom_revoke"),
            path("<path:object_id>/zoom-sync/", wrap(self.zoom_sync_view),
                 name="tenants_tenant_zoom_sync"),
            *super().get_urls(),
        ]

    def _button(self, request, object_id, run):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        tenant = self.get_object(request, unquote(object_id))
        if tenant is None:
            raise Http404("No such tenant.")
        if not self.has_change_permission(request, tenant):
            raise PermissionDenied
        run(request, tenant)
        return HttpResponseRedirect(reverse("admin:tenants_tenant_change", args=[tenant.pk]))

    def zoom_test_view(self, request, object_id):
        return self._button(request, object_id, self._test_one)

    def zoom_revoke_view(self, request, object_id):
        return self._button(request, object_id, self._revoke_one)

    def zoom_sync_view(self, request, object_id):
        return self._button(request, object_id, self._sync_one)

    def _sync_one(self, request, tenant: Tenant) -> None:
        from ..directory import tenants_sync_now

        if not tenant.is_active:
            self.message_user(request, f"{tenant} is inactive: activate it to sync.",
                              messages.WARNING)
            return
        tenants_sync_now(tenants=[tenant])
        self.message_user(request, f"{tenant}: directory sync queued.", messages.SUCCESS)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        tenant = self.get_object(request, unquote(object_id))
        actions = []
        if tenant is not None and self.has_change_permission(request, tenant):
            pk = tenant.pk
            actions = [
                {"label": "Test connection",
                 "url": reverse("admin:tenants_tenant_zoom_test", args=[pk])},
                {"label": "Sync users and groups now",
                 "url": reverse("admin:tenants_tenant_zoom_sync", args=[pk])},
                {"label": "Revoke", "url": reverse("admin:tenants_tenant_zoom_revoke", args=[pk]),
                 "confirm": "Revoke the Zoom authorization and delete the tokens?"},
            ]
        return super().change_view(request, object_id, form_url,
                                   {**(extra_context or {}), "zoom_object_actions": actions})


admin.site.register(Tenant, ZoomTenantAdmin)
