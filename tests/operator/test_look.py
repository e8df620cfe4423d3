"""One product: the staff site's name and sections, words instead of codes, one date format,
one count of today's API calls, error pages in the right look, and help text for staff."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from nectar_portal.display import from_epoch_ms, truncated, when
from tests.factories import (
    MeetingFactory,
    TenantFactory,
    ZoomUserFactory,
    ZoomWebhookDeliveryFactory,
    add_usage,
)
from zoom_integration.models import WebhookRejection

pytestmark = pytest.mark.django_db

DATE_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC")


@pytest.fixture
def boss(client, django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@vendor.test", "pw")
    client.force_login(user)
    return client


def text(response) -> str:
    return response.content.decode()


# --- The site ----------------------------------------------------------------------------------

def test_header_title_and_no_view_site(boss):
    page = text(boss.get("/admin/"))
    assert '<div id="site-name"><a href="/admin/">' in page
    assert "Nectar portal</a>" in page
    assert "| Nectar portal</title>" in page
    assert "Django administration" not in page and "Django site admin" not in page
    assert "View site" not in page
    assert 'rel="icon"' in page and "portal/favicon.svg" in page


def test_index_groups_models_by_how_staff_work(boss):
    response = boss.get("/admin/")
    sections = [(app["name"], [m["object_name"] for m in app["models"]])
                for app in response.context["app_list"]]
    names = [name for name, _ in sections]
    assert names[:4] == ["Customers", "Zoom data", "Staff access", "Scheduling"], names
    by_name = dict(sections)
    assert by_name["Customers"] == ["Tenant", "TenantHealth"]
    assert by_name["Zoom data"][:3] == ["ZoomMeeting", "ZoomUser", "ZoomGroup"]
    assert {"User", "Group", "TenantAccess", "TOTPDevice", "AccessAttempt"} <= set(
        by_name["Staff access"])
    assert "PeriodicTask" in by_name["Scheduling"]
    # Nothing registered is lost by the regrouping.
    registered = {m._meta.object_name for m in admin.site._registry}
    shown = {m for _, models in sections for m in models}
    assert registered == shown


def test_framework_apps_are_named_in_words(boss):
    assert apps.get_app_config("axes").verbose_name == "Login throttling"
    assert apps.get_app_config("otp_totp").verbose_name == "Two-factor devices"
    assert apps.get_app_config("django_celery_beat").verbose_name == "Scheduling"
    page = text(boss.get("/admin/axes/accessattempt/"))
    assert "Login throttling" in page
    for raw in ("Axes", "AXES", "Otp_Totp", "OTP_TOTP", "Periodic Tasks"):
        assert raw not in text(boss.get("/admin/")), raw


def test_a_section_home_page_lists_the_whole_section(boss):
    response = boss.get("/admin/tenants/")
    assert [app["name"] for app in response.context["app_list"]] == ["Customers"]
    assert "Tenant health" in text(response)


def test_plural_names_read_as_english(boss):
    page = text(boss.get("/admin/"))
    for plural in ("Meetings and webinars", "Zoom users", "Webhook deliveries",
                   "Refused deliveries", "Directory syncs", "Directories",
                   "Tenant access grants"):
        assert plural in page, plural
    assert "Tenant accesss" not in page and "Api usages" not in page


# --- Error pages ---------------------------------------------------------------------------------

def test_404_under_the_admin_is_a_staff_page(boss):
    response = boss.get("/admin/no-such-page/")
    assert response.status_code == 404
    page = text(response)
    assert "Nectar portal</a>" in page and "Page not found" in page
    assert 'class="breadcrumbs"' in page


def test_403_under_the_admin_is_a_staff_page(client, django_user_model):
    tenant = TenantFactory()
    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    from portal_security.access import tenant_access_grant

    tenant_access_grant(user=viewer, tenant=tenant)
    client.force_login(viewer)
    response = client.post(reverse("admin:tenants_tenant_zoom_test", args=[tenant.pk]))
    assert response.status_code == 403
    page = text(response)
    assert "You may not open this page" in page and "Nectar portal</a>" in page


def test_404_on_a_customer_host_has_no_admin_look(client):
    TenantFactory(slug="acme")  # acme.portal.test
    response = client.get("/no-such-page", HTTP_HOST="acme.portal.test")
    assert response.status_code == 404
    page = text(response)
    assert "Page not found" in page and 'id="site-name"' not in page
    assert "/admin/" not in page


# --- Words, dates and numbers --------------------------------------------------------------------

def test_one_date_format_with_its_time_zone():
    moment = dt.datetime(2026, 11, 30, 14, 5, tzinfo=dt.UTC)
    assert when(moment) == "2026-11-30 14:05 UTC"
    assert when(None) == "—"
    assert from_epoch_ms(1717000000123) == dt.datetime(2024, 5, 29, 16, 26, 40, 123000,
                                                       tzinfo=dt.UTC)
    assert from_epoch_ms(10**30) is None


def test_meeting_list_dates_carry_the_time_zone_and_long_topics_are_cut(boss):
    topic = "A very long topic " * 8
    MeetingFactory(topic=topic.strip())
    page = text(boss.get("/admin/zoom_integration/zoommeeting/"))
    assert DATE_TIME.search(page)
    assert f'title="{topic.strip()}"' in page  # the whole topic on hover


def test_user_type_shows_its_label(boss):
    ZoomUserFactory(user_type=1)
    ZoomUserFactory(user_type=2)
    page = text(boss.get("/admin/zoom_integration/zoomuser/"))
    assert '<td class="field-user_type">Basic</td>' in page
    assert '<td class="field-user_type">Licensed</td>' in page


def test_event_time_is_a_date_not_milliseconds(boss):
    delivery = ZoomWebhookDeliveryFactory()  # event_ts 1717000000123
    page = text(boss.get(f"/admin/zoom_integration/zoomwebhookdelivery/{delivery.pk}/change/"))
    assert "2024-05-29 16:26 UTC" in page
    assert "1717000000123</div>" not in page


def test_refusal_reasons_read_as_words(boss):
    tenant = TenantFactory()
    WebhookRejection.objects.create(tenant=tenant, reason="bad_signature",
                                    day=dt.date(2026, 11, 30), count=3,
                                    last_at=dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC))
    page = text(boss.get("/admin/zoom_integration/webhookrejection/"))
    assert "Bad signature" in page
    assert "<code>bad_signature</code>" not in page and ">bad_signature<" not in page
    assert "2026-11-30 09:00 UTC" in page


def test_today_api_calls_are_the_same_number_on_both_pages(boss):
    tenant = TenantFactory(name="Counted")
    add_usage(tenant, calls=1234, category="Heavy")
    add_usage(tenant, calls=66, category="Resource-intensive")
    add_usage(tenant, calls=5000, category="Light")
    health = text(boss.get("/admin/zoom_integration/tenanthealth/"))
    directory = text(boss.get("/admin/zoom_integration/tenantdirectory/"))
    for page in (health, directory):
        assert "1,300 / " in page  # Heavy + Resource-intensive against the cap
        assert "6,300 calls in all categories" in page


def test_truncated_keeps_the_whole_text_for_hover():
    html = str(truncated("<b>long</b>", em=10))
    assert 'title="&lt;b&gt;long&lt;/b&gt;"' in html and "max-width: 10em" in html
    assert truncated("") == "—"


def test_help_text_is_written_for_staff():
    """No markdown backticks, no pointers to documents the reader does not have."""
    offenders = []
    for label in ("tenants", "zoom_integration", "portal_security"):
        for model in apps.get_app_config(label).get_models():
            for field in model._meta.get_fields():
                help_text = str(getattr(field, "help_text", "") or "")
                if "`" in help_text or re.search(r"docs/|\.md\b|§", help_text):
                    offenders.append(f"{model.__name__}.{field.name}: {help_text}")
    assert offenders == []


def test_the_lockout_page_is_a_nectar_portal_page(settings, client, django_user_model):
    settings.AXES_ENABLED = True
    django_user_model.objects.create_user("alice", password="right-pw", is_staff=True)
    for _ in range(5):
        locked = client.post("/admin/login/?next=/admin/",
                             {"username": "alice", "password": "wrong"}, REMOTE_ADDR="10.0.0.9")
    assert locked.status_code == 429
    page = text(locked)
    assert "Nectar portal</a>" in page and "Sign-in locked" in page and "15 minutes" in page
    assert "portal/favicon.svg" in page
