"""The staff site: "Nectar portal" in the header and title, and its index grouped by task.

`PortalAdminSite` replaces Django's default site (through `apps.PortalAdminConfig.default_site`,
Django's documented hook), so every `admin.site.register` and `@admin.register` in the project
lands here unchanged. Its only job is presentation:

- the header, the browser title and the index title read "Nectar portal";
- "View site" is gone: the staff hosts serve nothing outside the admin, so the link was a 404;
- no navigation sidebar: at 1366 px it took a fifth of the width from lists that need it (the
  index, the breadcrumbs and the links between pages do the navigating);
- the index and the navigation sidebar list the models in the order staff work, in four
  sections (Customers, Zoom data, Staff access, Scheduling) instead of one box per Python app
  in alphabetical order. Each section has a "home" app whose index page shows the whole
  section, so the section title links to the same list the index shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import admin


@dataclass(frozen=True)
class Section:
    name: str
    home: str  # the app label whose app index page shows this section
    models: tuple[str, ...]  # "app_label.ModelName", in the order shown


SECTIONS = (
    Section("Customers", "tenants", (
        "tenants.Tenant",
        "zoom_integration.TenantHealth",
    )),
    Section("Zoom data", "zoom_integration", (
        "zoom_integration.ZoomMeeting",
        "zoom_integration.ZoomUser",
        "zoom_integration.ZoomGroup",
        "zoom_integration.ZoomWebhookDelivery",
        "zoom_integration.WebhookRejection",
        "zoom_integration.SyncRun",
        "zoom_integration.TenantDirectory",
        "zoom_integration.ZoomAccountOverview",
        "zoom_integration.ZoomReconcileState",
    )),
    Section("Staff access", "portal_security", (
        "auth.User",
        "auth.Group",
        "portal_security.TenantAccess",
        "otp_totp.TOTPDevice",
        "axes.AccessAttempt",
        "axes.AccessFailureLog",
        "axes.AccessLog",
    )),
    Section("Scheduling", "django_celery_beat", (
        "django_celery_beat.PeriodicTask",
        "django_celery_beat.IntervalSchedule",
        "django_celery_beat.CrontabSchedule",
        "django_celery_beat.ClockedSchedule",
        "django_celery_beat.SolarSchedule",
    )),
)


def group_app_list(app_list: list[dict]) -> list[dict]:
    """Django's per-app list regrouped into `SECTIONS`; a model no section names stays in its
    own app's box, after the sections (so a newly registered admin is never hidden)."""
    apps = {app["app_label"]: app for app in app_list}
    models = {f"{app['app_label']}.{model['object_name']}": model
              for app in app_list for model in app["models"]}
    placed: set[str] = set()
    grouped = []
    for section in SECTIONS:
        entries = [models[key] for key in section.models if key in models]
        placed.update(key for key in section.models if key in models)
        if not entries:
            continue  # the user may see none of them
        home = apps.get(section.home) or apps[next(k for k in section.models if k in models)
                                               .split(".", 1)[0]]
        grouped.append({**home, "name": section.name, "models": entries})
    for app in app_list:
        rest = [m for m in app["models"]
                if f"{app['app_label']}.{m['object_name']}" not in placed]
        if rest:
            grouped.append({**app, "models": rest})
    return grouped


class PortalAdminSite(admin.AdminSite):
    site_header = "Nectar portal"
    site_title = "Nectar portal"
    index_title = "Home"
    site_url = None  # no "View site": staff hosts have no site outside the admin
    enable_nav_sidebar = False

    def get_app_list(self, request, app_label=None):
        if app_label is None:
            return group_app_list(super().get_app_list(request))
        section = next((s for s in SECTIONS if s.home == app_label), None)
        if section is None:
            return super().get_app_list(request, app_label)
        # A section's home page lists the whole section, as the index does.
        return [app for app in group_app_list(super().get_app_list(request))
                if app["name"] == section.name]
