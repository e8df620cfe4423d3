"""The tenant side of the Tenant admin: hostnames inline, write-only secrets, Zoom setup URLs.

`TenantAdmin` is a base class, not registered here: the one registered Tenant admin is
composed in zoom_integration/admin/tenant.py (this base, the Zoom connection, staff grants).
This module imports nothing from zoom_integration.

Secrets are write-only. Staff who may not change a tenant get no secret inputs at all: Django
would render a read-only form's fields as text, which for a secret is the secret itself.
"""

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from .fields import UNDECRYPTABLE_HINT
from .forms import SECRET_FIELDS, TenantAdminForm, TenantDomainForm, TenantDomainInlineFormSet
from .models import Tenant, TenantDomain
from .selectors import (
    credentials_annotations,
    credentials_of_row,
    secret_hint,
    tenant_undecryptable_secrets,
    tenant_zoom_urls,
)


class TenantDomainInline(admin.TabularInline):
    model = TenantDomain
    form = TenantDomainForm
    formset = TenantDomainInlineFormSet
    extra = 1


def copyable(value: str | None):
    """A read-only value with a copy button (works without JS: the text is selectable)."""
    if not value:
        return format_html('<span class="quiet">{}</span>',
                           "Add a primary hostname below to get this value.")
    return format_html(
        '<code class="copy-value">{}</code> '
        '<button type="button" class="button copy-button" data-copy="{}">Copy</button>',
        value, value)


#: Form fields that carry or change a secret: never shown to those who may only view.
SECRET_INPUTS = (*SECRET_FIELDS, *(f"clear_{name}" for name in SECRET_FIELDS))


class TenantAdmin(admin.ModelAdmin):
    form = TenantAdminForm
    #: Fields shown only to users who may change the tenant (buttons that act, secret inputs).
    change_only_fields: tuple[str, ...] = SECRET_INPUTS
    inlines = [TenantDomainInline]
    list_display = ("name", "slug", "is_active", "primary_host", "credentials_state")
    list_filter = ("is_active", "zoom_plan")
    search_fields = ("name", "slug", "domains__domain", "zoom_account_id")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("zoom_account_id", "zoom_setup_values", "stored_secrets",
                       "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "slug", "is_active", "zoom_plan", "sync_interval_hours",
                           "notes")}),
        ("Values for the customer to enter in their Zoom app",
         {"fields": ("zoom_setup_values",)}),
        ("The customer's Zoom app", {
            "fields": ("client_id", "client_secret", "clear_client_secret", "secret_token",
                       "clear_secret_token", "verification_token", "clear_verification_token",
                       "installation_url", "stored_secrets"),
            "description": "Secrets are write-only: type a new value to replace one.",
        }),
        ("Zoom account", {"fields": ("expected_zoom_account_id", "zoom_account_id",
                                     "created_at", "updated_at")}),
    )

    class Media:
        js = ("portal/copy.js", "portal/confirm.js")
        css = {"all": ("portal/operator.css",)}

    @admin.display(description="Primary hostname")
    def primary_host(self, tenant):
        return next((d.domain for d in tenant.domains.all() if d.is_primary), "—")

    @admin.display(description="Credentials")
    def credentials_state(self, tenant):
        # The one rule (tenants.selectors), the same as Tenant health and the setup checklist.
        missing = credentials_of_row(tenant).missing
        return "complete" if not missing else "missing " + ", ".join(missing)

    @admin.display(description="Setup values")
    def zoom_setup_values(self, tenant):
        urls = tenant_zoom_urls(tenant=tenant) if tenant.pk else None
        rows = [
            ("Redirect URL for OAuth", urls.redirect_url if urls else None),
            ("OAuth allow list", urls.allow_list_url if urls else None),
            ("Event notification endpoint URL", urls.event_url if urls else None),
        ]
        return format_html('<table class="zoom-setup">{}</table>', format_html_join(
            "", "<tr><th>{}</th><td>{}</td></tr>",
            ((label, copyable(value)) for label, value in rows)))

    @admin.display(description="Stored secrets")
    def stored_secrets(self, tenant):
        # From the database: after a failed submit `tenant` carries the posted values, which
        # were not stored.
        stored = Tenant.objects.filter(pk=tenant.pk).first() if tenant.pk else None
        return format_html_join(
            "", "<div>{}: {}</div>",
            ((Tenant._meta.get_field(name).verbose_name,
              secret_hint(getattr(stored, name) if stored else ""))
             for name in SECRET_FIELDS))

    def get_queryset(self, request):
        return (super().get_queryset(request).prefetch_related("domains")
                .annotate(**credentials_annotations()))

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            # Nothing is stored yet: no "clear" boxes, no stored-secrets panel.
            hidden = {*(f"clear_{name}" for name in SECRET_FIELDS), "stored_secrets"}
        elif self.has_change_permission(request, obj):
            return fieldsets
        else:
            # View only: what remains is rendered as text, so it must hold no secret.
            hidden = set(self.change_only_fields)
        return [(title, {**options,
                         "fields": tuple(f for f in options["fields"] if f not in hidden)})
                for title, options in fieldsets]

    def render_change_form(self, request, context, add=False, change=False, form_url="",
                           obj=None):
        form = context["adminform"].form
        if request.method == "POST" and form.is_bound:
            # Reached only when the submit failed (the form or a hostname). Password inputs
            # never echo what was typed, so say so next to each secret that was not stored.
            for name in SECRET_FIELDS:
                if name in form.fields and form.data.get(form.add_prefix(name)) \
                        and name not in form.errors:
                    form.add_error(name, "Not saved: the form had errors, so this value was "
                                         "not stored. Paste it again before saving.")
        return super().render_change_form(request, context, add, change, form_url, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        tenant = self.get_object(request, object_id)
        unreadable = tenant_undecryptable_secrets(tenant=tenant) if tenant is not None else []
        if request.method == "GET" and unreadable:
            messages.error(request, f"{', '.join(unreadable)}: {UNDECRYPTABLE_HINT} "
                                    "(or add the key it was encrypted with to "
                                    "FIELD_ENCRYPTION_KEY).")
        elif request.method == "GET" and tenant is not None and not (
                tenant.secret_token or tenant.verification_token):
            messages.warning(request, "No Secret Token is set: every webhook from Zoom for this "
                                      "customer is refused (401) until you enter it.")
        return super().change_view(request, object_id, form_url, extra_context)
