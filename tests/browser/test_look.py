"""The portal's look, page by page, at a 1366 px laptop and a 390 px phone.

Staff sign in and walk the main pages (admin index, tenants, a tenant, Tenant health, the
setup checklist, meetings, a meeting, Zoom users, a page that does not exist); the customer
goes through Zoom's consent on the sandbox and reads the success page. On every page:

- nothing scrolls sideways (the document is no wider than the window) on the laptop, and on
  the phone for the customer's pages (the admin's own lists scroll inside their box there);
- the header says "Nectar portal" and the window title ends with it;
- no Content-Security-Policy violation (the `page` fixture fails the test on one);
- a full-page screenshot lands in test-artifacts/look-<page>-<width>.png.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.browser.conftest import ARTIFACTS, admin_login, customer_consents
from tests.factories import (
    MeetingFactory,
    ParticipantFactory,
    SyncRunFactory,
    TenantDomainFactory,
    TenantFactory,
    ZoomConnectionFactory,
    ZoomUserFactory,
    ZoomWebhookDeliveryFactory,
    add_samples,
    add_usage,
)
from zoom_integration.models import WebhookRejection

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
LONG_TOPIC = ("Quarterly business review with the EMEA sales leadership team, channel "
              "partners and the customer success managers (recording on)")


def scrolls_sideways(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth > document.documentElement.clientWidth")


def look(page, name: str, *, viewport: dict, staff: bool = True) -> None:
    """Screenshot of the page as it is now, after checking it fits and is branded."""
    page.set_viewport_size(viewport)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"look-{name}-{viewport['width']}.png"),
                    full_page=True)
    width = page.evaluate("[document.documentElement.scrollWidth,"
                          " document.documentElement.clientWidth]")
    assert not scrolls_sideways(page), f"{name} at {viewport['width']} px: {width}"
    if staff and viewport is LAPTOP:
        # Django lets a wide list scroll inside its own box: on a laptop none may need to.
        boxes = page.evaluate("[...document.querySelectorAll('.results')]"
                              ".map(e => [e.scrollWidth, e.clientWidth])")
        assert all(wide <= shown + 1 for wide, shown in boxes), f"{name}: {boxes}"
    if staff:
        assert page.locator("#site-name").inner_text().strip() == "Nectar portal", name
        assert page.title().endswith("| Nectar portal"), page.title()
    assert page.errors == [], page.errors


# Every stream and metric of a person's stored summaries, for the person page's table.
SUMMARIES = {stream: {"samples": 30, **{metric: {"min": 12.345, "avg": 1234.5, "max": 65432.1}
                                        for metric in ("latency_ms", "jitter_ms", "avg_loss_pct",
                                                       "max_loss_pct", "bitrate_kbps",
                                                       "frame_rate_fps")}}
             for stream in ("audio_input", "audio_output", "video_input", "video_output",
                            "as_input", "as_output")}


@pytest.fixture
def busy_tenant(superuser):
    """A connected customer with a long name, a failed delivery, API usage, users and a
    meeting with a long topic, eight participants and their QoS samples."""
    tenant = TenantFactory(name="Globex International Holdings (EMEA)", slug="globex",
                           zoom_account_id="AbCdEfGhIjKlMnOpQrStUv")
    TenantDomainFactory(tenant=tenant, domain="zoom-events.globex-international.example",
                        is_webhook=True)
    ZoomConnectionFactory(tenant=tenant)
    ZoomWebhookDeliveryFactory(tenant=tenant, status="failed",
                               last_error="Zoom answered 503 three times; try again later")
    SyncRunFactory(tenant=tenant, started_at=timezone.now() - dt.timedelta(hours=1))
    add_usage(tenant, calls=1234, category="Heavy", rate_limited=2)
    add_usage(tenant, calls=20345, category="Light")
    WebhookRejection.objects.create(tenant=tenant, reason="validation_needs_secret_token",
                                    day=timezone.now().date(), count=12, last_at=timezone.now())
    for n in range(6):
        ZoomUserFactory(tenant=tenant, user_type=1 + n % 2, status="active",
                        dept="Field sales, Northern and Central Europe")
    meeting = MeetingFactory(tenant=tenant, topic=LONG_TOPIC, quality="poor",
                             host_email="regional.director.emea@globex-international.example",
                             end_time=timezone.now() - dt.timedelta(hours=2),
                             zoom_audio_quality="good", zoom_video_quality="fair",
                             zoom_screen_share_quality="poor")
    for n in range(8):
        participant = ParticipantFactory(
            meeting=meeting, user_name=f"Participant with a long name {n}",
            email=f"participant.number.{n}@globex-international.example",
            location="Frankfurt am Main (DE)", data_center="Germany (DE)",
            person__quality="poor" if n < 2 else "good",
            person__quality_reason="audio input jitter 80 ms > 30 ms" if n < 2 else "",
            person__stream_summaries=SUMMARIES)
        add_samples(participant, minutes=30, jitter=80.0 if n < 2 else 3.0)
    for n in range(3):
        MeetingFactory(tenant=tenant, topic=f"Weekly stand-up {n}", quality="good",
                       end_time=timezone.now() - dt.timedelta(days=n + 1))
    return tenant, meeting


def test_staff_pages_fit_a_laptop_and_say_nectar_portal(page, busy_tenant):
    tenant, meeting = busy_tenant
    admin_login(page, "boss")
    pages = [
        ("index", "/admin/"),
        ("tenants", "/admin/tenants/tenant/"),
        ("tenant", f"/admin/tenants/tenant/{tenant.pk}/change/"),
        ("health", "/admin/zoom_integration/tenanthealth/"),
        ("checklist", f"/admin/zoom_integration/tenanthealth/{tenant.pk}/checklist/"),
        ("meetings", "/admin/zoom_integration/zoommeeting/"),
        ("meeting", f"/admin/zoom_integration/zoommeeting/{meeting.pk}/change/"),
        ("meeting-person", f"/admin/zoom_integration/zoommeeting/{meeting.pk}/person/"
                           f"?person={meeting.people.order_by('position').first().pk}"),
        ("users", "/admin/zoom_integration/zoomuser/"),
        ("deliveries", "/admin/zoom_integration/zoomwebhookdelivery/"),
        ("refused", "/admin/zoom_integration/webhookrejection/"),
        ("sync-runs", "/admin/zoom_integration/syncrun/"),
        ("directories", "/admin/zoom_integration/tenantdirectory/"),
        ("reconcile", "/admin/zoom_integration/zoomreconcilestate/"),
    ]
    for name, url in pages:
        page.set_viewport_size(LAPTOP)
        page.goto(url)
        look(page, name, viewport=LAPTOP)
        # The phone: screenshots for people to judge; the admin's wide lists scroll inside
        # their own box there, by Django's design, so only the laptop is held to no scroll.
        page.set_viewport_size(PHONE)
        page.screenshot(path=str(ARTIFACTS / f"look-{name}-390.png"), full_page=True)

    # The sections and app names read as words, in the order staff work.
    page.set_viewport_size(LAPTOP)
    page.goto("/admin/")
    captions = [(c.text_content() or "").strip()
                for c in page.locator("#content-main caption").all()]
    assert captions[:4] == ["Customers", "Zoom data", "Staff access", "Scheduling"], captions
    body = page.locator("#content-main").inner_text()
    for raw in ("AXES", "OTP_TOTP", "PERIODIC TASKS", "Django administration", "View site"):
        assert raw not in page.content(), raw
    assert "Login attempts" in body or "Access attempts" in body

    # Long text is cut with the full text on hover; codes are shown as labels.
    page.goto("/admin/zoom_integration/zoommeeting/")
    assert page.locator(f'[title="{LONG_TOPIC}"]').count() == 1
    page.goto("/admin/zoom_integration/zoomuser/")
    types = page.locator("td.field-user_type").all_inner_texts()
    assert sorted(set(types)) == ["Basic", "Licensed"], types

    # A page that does not exist is a staff page too, with the way back.
    response = page.goto("/admin/no-such-page/")
    assert response.status == 404
    look(page, "not-found", viewport=LAPTOP)
    assert page.locator("a", has_text="Home").count() >= 1


HOST = "globex.portal.test"
REDIRECT = f"https://{HOST}/adminapi/zoom/oauth/authorize"


@pytest.mark.integration
def test_customer_pages_fit_a_phone(page, tenant_host, sandbox, live_server):
    tenant = TenantFactory(name="Globex International Holdings (EMEA)", slug="globex",
                           client_id="globexClientId01", client_secret="globexSecret0000000001",
                           secret_token="globexToken00000000001", primary_domain=None)
    TenantDomainFactory(tenant=tenant, domain=HOST, is_primary=True)
    sandbox.register_app(client_id=tenant.client_id, client_secret=tenant.client_secret,
                         secret_token=tenant.secret_token, redirect_uri=REDIRECT,
                         event_url=f"{live_server.url}/zoom/event")  # granular, as apps today
    tenant_host(HOST)
    page.set_viewport_size(PHONE)

    # A link that went wrong: the error page, on a phone.
    page.goto(f"{REDIRECT}?code=x&state=not-a-state")
    look(page, "customer-error", viewport=PHONE, staff=False)
    look(page, "customer-error", viewport=LAPTOP, staff=False)

    page.set_viewport_size(PHONE)
    customer_consents(page, HOST)
    look(page, "customer-success", viewport=PHONE, staff=False)
    look(page, "customer-success", viewport=LAPTOP, staff=False)
