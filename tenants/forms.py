"""Admin form for tenants: secrets are write-only inputs that never echo a stored value."""

from django import forms
from django.core.exceptions import ValidationError

from .fields import is_undecryptable
from .models import Tenant, TenantDomain
from .selectors import secret_hint
from .services import tenant_full_clean, undecryptable_fields

SECRET_FIELDS = ("client_secret", "secret_token", "verification_token")


class TenantAdminForm(forms.ModelForm):
    """Blank secret input keeps the stored value; the "clear" box empties it."""

    clear_client_secret = forms.BooleanField(required=False, label="Clear Client Secret")
    clear_secret_token = forms.BooleanField(required=False, label="Clear Secret Token")
    clear_verification_token = forms.BooleanField(required=False,
                                                  label="Clear Verification Token")

    installation_url = forms.URLField(
        label="Installation URL", required=False, max_length=2000, assume_scheme="https",
        help_text=Tenant._meta.get_field("installation_url").help_text)

    class Meta:
        model = Tenant
        fields = ("name", "slug", "is_active", "zoom_plan", "sync_interval_hours", "notes",
                  "client_id", "client_secret", "secret_token", "verification_token",
                  "installation_url", "expected_zoom_account_id")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "verification_token" in self.fields:
            # Zoom retired it (2025): events are signed with the Secret Token.
            self.fields["verification_token"].help_text = (
                "Retired by Zoom (2025): no substitute for the Secret Token, which signs every "
                "event. Kept only for apps that still send it. Write-only.")
        for name in SECRET_FIELDS:
            if name not in self.fields:
                continue
            field = self.fields[name]
            stored = getattr(self.instance, name, "") if self.instance.pk else ""
            field.required = False
            field.widget = forms.PasswordInput(render_value=False,
                                               attrs={"autocomplete": "new-password"})
            # The form must never carry the secret back to the browser, even as "initial".
            self.initial[name] = ""
            if self.instance.pk:
                field.help_text = f"Currently: {secret_hint(stored)}. {field.help_text} " \
                                  "Leave blank to keep it."

    def has_changed(self):
        return bool(self.changed_data)

    @property
    def changed_data(self):
        changed = [n for n in super().changed_data if not n.startswith("clear_")]
        for name in SECRET_FIELDS:
            if name in changed and not self.data.get(self.add_prefix(name)):
                changed.remove(name)
            if self.data.get(self.add_prefix(f"clear_{name}")) and name not in changed:
                changed.append(name)
        return changed

    def clean(self):
        cleaned = super().clean()
        for name in SECRET_FIELDS:
            if name not in self.fields:
                continue
            if cleaned.get(f"clear_{name}"):
                if cleaned.get(name):
                    self.add_error(name, "Either type a new value or tick 'clear', not both.")
                cleaned[name] = ""
            elif not cleaned.get(name):
                stored = getattr(self.instance, name, "") if self.instance.pk else ""
                if is_undecryptable(stored):
                    cleaned.pop(name, None)  # the instance keeps the stored ciphertext
                else:
                    cleaned[name] = stored
        return cleaned

    def _get_validation_exclusions(self):
        # A stored secret no key decrypts is kept as it is until staff type a new one.
        return {*super()._get_validation_exclusions(),
                *undecryptable_fields(tenant=self.instance)}

    def _post_clean(self):
        super()._post_clean()
        try:
            tenant_full_clean(tenant=self.instance)
        except ValidationError as exc:
            self._update_errors(exc)


class TenantDomainInlineFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        primaries = webhooks = 0
        for form in self.forms:
            if not form.cleaned_data or form.cleaned_data.get("DELETE"):
                continue
            primaries += bool(form.cleaned_data.get("is_primary"))
            webhooks += bool(form.cleaned_data.get("is_webhook"))
        if primaries > 1:
            raise ValidationError("Only one hostname can be primary.")
        if webhooks > 1:
            raise ValidationError("Only one hostname can be the webhook host.")
        if self.forms and primaries == 0 and any(
                f.cleaned_data and not f.cleaned_data.get("DELETE") for f in self.forms):
            raise ValidationError("Mark one hostname as primary: it builds the Redirect URL.")


class TenantDomainForm(forms.ModelForm):
    class Meta:
        model = TenantDomain
        fields = ("domain", "is_primary", "is_webhook")

    def clean_domain(self):
        return (self.cleaned_data.get("domain") or "").strip().lower().rstrip(".")
