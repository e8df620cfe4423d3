"""Three user journeys in real headless Chromium against a live server.

1. Staff sign in, add a tenant with credentials and a hostname, and copy the three URLs
   (tenant page and setup checklist).
2. The customer opens the tenant's authorization link, authorizes on the sandbox's consent
   page and lands on the success page; the checklist then shows "authorized".
3. A meeting with participants and QoS opens on the meeting page with a chart: seeded with
   factories, and end to end (sandbox ends a meeting → webhook → metrics fetch → page).
4. Recovery: a meeting's fetch fails while the tenant is not authorized (staff read a sentence
   and a "fetch again" button); the customer authorizes; the meeting is fetched on its own.

Screenshots of each journey's last page land in test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
import requests

from tests.browser.conftest import (
    ARTIFACTS,
    PASSWORD,
    admin_login,
    customer_consents,
    land_on_done,
)
from tests.celery_worker import celery_worker
from tests.factories import (
    MeetingFactory,
    ParticipantFactory,
    TenantDomainFactory,
    TenantFactory,
    add_samples,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
HOST = "acme.portal.test"
REDIRECT = f"https://{HOST}/adminapi/zoom/oauth/authorize"
DONE = f"https://{HOST}/adminapi/zoom/oauth/done"


def copy_and_read(page, selector: str) -> str:
    from playwright.sync_api import expect

    button = page.locator(selector).first
    button.click()
    expect(button).to_have_text("Copied")  # copy.js confirms once the clipboard has it
    return page.evaluate("navigator.clipboard.readText()")


def test_staff_add_a_tenant_and_copy_the_three_urls(page, superuser):
    admin_login(page, "boss", "/admin/tenants/tenant/add/")
    page.fill("#id_name", "Acme Browser")
    page.fill("#id_slug", "acme-browser")
    page.fill("#id_client_id", "acmeClientId0001")
    page.fill("#id_client_secret", "acmeClientSecret000000001")
    page.fill("#id_secret_token", "acmeSecretToken00000001")
    page.fill("#id_domains-0-domain", HOST)
    page.check("#id_domains-0-is_primary")
    page.click("input[name=_continue]")
    page.wait_for_load_state()
    assert page.locator(".errornote").count() == 0, page.locator("#content").inner_text()

    urls = {"redirect": REDIRECT, "allow": f"https://{HOST}",
            "event": f"https://{HOST}/zoom/event"}
    body = page.locator("#content").inner_text()
    for value in urls.values():
        assert value in body
    assert copy_and_read(page, f'button[data-copy="{REDIRECT}"]') == REDIRECT
    # The secrets are write-only: the page never carries them back.
    html = page.content()
    assert "acmeClientSecret000000001" not in html and "acmeSecretToken00000001" not in html

    # The health overview lists the tenant; its checklist has the same values to copy.
    page.goto("/admin/zoom_integration/tenanthealth/")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "tenant_health_overview.png"), full_page=True)
    row = page.locator("tr", has_text="Acme Browser")
    assert "Awaiting URL validation" in row.inner_text()
    row.locator("a", has_text="Checklist").click()
    page.wait_for_load_state()
    assert page.locator("#health-status").inner_text() == "Awaiting URL validation"
    assert page.locator("#step-credentials").get_attribute("data-state") == "done"
    assert page.locator("#step-authorize").get_attribute("data-state") == "todo"
    event_button = f'#step-event_subscription button[data-copy="{urls["event"]}"]'
    assert copy_and_read(page, event_button) == urls["event"]
    assert copy_and_read(page, f'#step-allow_list button[data-copy="{urls["allow"]}"]') \
        == urls["allow"]
    assert page.errors == []
    # The printable version: the same values, no admin chrome, nothing to click.
    with page.context.expect_page() as printable:
        page.click("text=Printable version for the customer")
    printable = printable.value
    printable.wait_for_load_state()
    assert urls["redirect"] in printable.locator("body").inner_text()
    assert printable.locator("#header, .breadcrumbs, button").count() == 0
    printable.screenshot(path=str(ARTIFACTS / "checklist_printable.png"), full_page=True)


@pytest.fixture
def acme(live_server, sandbox):
    """A tenant wired to a sandbox app; Zoom's events reach the live server as `localhost`."""
    tenant = TenantFactory(name="Acme", slug="acme", client_id="acmeClientId0002",
                           client_secret="acmeClientSecret000000002",
                           secret_token="acmeSecretToken00000002", primary_domain=None)
    TenantDomainFactory(tenant=tenant, domain=HOST, is_primary=True)
    TenantDomainFactory(tenant=tenant, domain="localhost", is_webhook=True)
    sandbox.register_app(client_id=tenant.client_id, client_secret=tenant.client_secret,
                         secret_token=tenant.secret_token, redirect_uri=REDIRECT,
                         event_url=f"{live_server.url}/zoom/event")  # granular, as apps today
    return tenant


@pytest.mark.integration
def test_customer_authorizes_on_the_sandbox_and_sees_success(page, tenant_host, acme,
                                                             superuser):
    tenant_host(HOST)
    customer_consents(page, HOST)
    page.reload()  # a reload shows the current state again, never the spent callback
    assert "Zoom is connected" in page.locator("body").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "customer_oauth_success.png"), full_page=True)

    acme.refresh_from_db()
    assert acme.zoom_account_id
    # Staff now see the authorization on the checklist (in the same browser, another host).
    admin_login(page, "boss", f"/admin/zoom_integration/tenanthealth/{acme.pk}/checklist/")
    assert page.locator("#step-authorize").get_attribute("data-state") == "done"
    assert acme.zoom_account_id in page.locator("#step-authorize").inner_text()
    assert page.locator("#step-scopes").get_attribute("data-state") == "done"


def _meeting_page_checks(page, meeting_pk: int, participants: int) -> None:
    page.goto(f"/admin/zoom_integration/zoommeeting/{meeting_pk}/change/")
    assert page.locator("#participants tr.participant").count() == participants
    chart = page.locator(f"#meeting-{meeting_pk}-latency")
    assert chart.is_visible()
    assert chart.locator("g.series").count() >= 1
    assert chart.get_attribute("role") == "img"
    assert "Latency" in chart.locator("title").first.text_content()
    assert page.errors == []


def test_meeting_page_shows_participants_and_a_chart(page, django_user_model):
    from django.contrib.auth.models import Permission

    from portal_security.access import tenant_access_grant

    tenant = TenantFactory(name="Chart Co")
    meeting = MeetingFactory(tenant=tenant, topic="Quarterly review", quality="poor",
                             end_time=dt.datetime.now(dt.UTC))
    poor = ParticipantFactory(meeting=meeting, user_name="Ana Ruiz", person__quality="poor",
                              person__mos=2.4,
                              person__quality_reason="audio input jitter 80 ms > 30 ms")
    good = ParticipantFactory(meeting=meeting, user_name="Bob Lee", person__quality="good",
                              person__mos=4.3)
    add_samples(poor, minutes=10, latency=120.0, jitter=80.0, loss=2.0)
    add_samples(good, minutes=10)
    viewer = django_user_model.objects.create_user("viewer", password=PASSWORD, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_zoommeeting"))
    tenant_access_grant(user=viewer, tenant=tenant)

    admin_login(page, "viewer", "/admin/zoom_integration/zoommeeting/")
    page.screenshot(path=str(ARTIFACTS / "meeting_list.png"), full_page=True)
    with page.expect_download() as download:
        page.click("#export-csv")
    assert download.value.path().read_text().count("Quarterly review") == 1
    page.click("text=Quarterly review")
    page.wait_for_load_state()
    _meeting_page_checks(page, meeting.pk, 2)
    assert page.locator("#participant-" + str(poor.position)).inner_text().count("Wifi") == 1
    assert page.locator(f"#participant-{poor.person.pk}-jitter").is_visible()  # poor: open


@pytest.fixture
def real_worker(sandbox, through_broker):
    """A Celery worker subprocess on every queue, against this test's database and the sandbox;
    the live server (this process) publishes to the real broker instead of running eagerly."""
    with celery_worker(name="browser", queues="default,webhooks,sync,metrics",
                       settings_module="tests.browser.worker_settings",
                       env={"ZOOM_API_BASE_URL": sandbox.api_base_url,
                            "ZOOM_OAUTH_BASE_URL": sandbox.base_url}) as worker:
        yield worker


def _wait_for(predicate, *, timeout: float, what: str, worker=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if worker is not None and worker.poll() is not None:
            raise AssertionError(f"the worker exited ({worker.returncode}): "
                                 f"{worker.stderr.read().decode()[-2000:]}")
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.mark.integration
def test_sandbox_meeting_ends_and_its_page_shows_a_chart(page, live_server, acme, sandbox,
                                                         real_worker, superuser):
    from zoom_integration.models import ZoomMeeting

    # Connect the tenant the way an Installation URL does (no state), over HTTP.
    code = sandbox.authorization_code(acme.client_id, REDIRECT)
    answer = requests.get(f"{live_server.url}/adminapi/zoom/oauth/authorize",
                          params={"code": code}, headers={"Host": HOST}, timeout=30)
    assert answer.status_code == 200, answer.text[:500]

    # The sandbox ends a meeting and delivers meeting.ended to the live server; the worker
    # processes the delivery, then fetches the meeting's dashboard data from the sandbox.
    ended = sandbox.end_meeting(client_id=acme.client_id, participants=4, minutes=6,
                                topic="Sandbox all-hands")
    assert sandbox.wait_deliveries(timeout=30)

    def fetched():
        meeting = ZoomMeeting.objects.filter(tenant=acme, uuid=ended["uuid"]).first()
        return meeting is not None and meeting.fetch_status == "done"

    _wait_for(fetched, timeout=60, what="the meeting's metrics fetch", worker=real_worker)
    meeting = ZoomMeeting.objects.get(tenant=acme, uuid=ended["uuid"])
    # Four join sessions; Zoom's list repeats a person who rejoined, so fewer people.
    assert meeting.participants.count() == 4
    people = meeting.people.count()
    assert 0 < people < 4

    admin_login(page, "boss", f"/admin/zoom_integration/zoommeeting/?tenant__id__exact={acme.pk}")
    page.click("text=Sandbox all-hands")
    page.wait_for_load_state()
    _meeting_page_checks(page, meeting.pk, people)


@pytest.mark.integration
def test_a_fetch_failed_while_unauthorized_is_fetched_once_the_customer_authorizes(
        page, tenant_host, live_server, acme, sandbox, real_worker, superuser):
    from zoom_integration.messages import NOT_AUTHORIZED
    from zoom_integration.models import ZoomMeeting

    # The customer has not authorized yet: the meeting ends, its fetch fails for want of it.
    ended = sandbox.end_meeting(client_id=acme.client_id, participants=3, minutes=4,
                                topic="Before consent")
    assert sandbox.wait_deliveries(timeout=30)

    def fetch_is(status):
        def check():
            meeting = ZoomMeeting.objects.filter(tenant=acme, uuid=ended["uuid"]).first()
            return meeting is not None and meeting.fetch_status == status
        return check

    _wait_for(fetch_is("failed"), timeout=60, what="the failed fetch", worker=real_worker)
    meeting = ZoomMeeting.objects.get(tenant=acme, uuid=ended["uuid"])
    admin_login(page, "boss", f"/admin/zoom_integration/zoommeeting/{meeting.pk}/change/")
    body = page.locator("body").inner_text()
    assert NOT_AUTHORIZED in body and "ReauthorizationRequiredError" not in body
    assert page.locator("#fetch-again").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "meeting_fetch_failed.png"), full_page=True)

    # The customer authorizes; the failed fetch is queued again by itself.
    tenant_host(HOST)
    page.goto(f"https://{HOST}/adminapi/zoom/oauth/start")
    page.click("button[value=allow]")
    land_on_done(page, DONE)
    assert "Zoom is connected" in page.locator("body").inner_text()
    _wait_for(fetch_is("done"), timeout=60, what="the fetch after authorization",
              worker=real_worker)

    _meeting_page_checks(page, meeting.pk, 3)  # still signed in as staff
    assert NOT_AUTHORIZED not in page.locator("body").inner_text()
    page.screenshot(path=str(ARTIFACTS / "meeting_fetched_after_authorization.png"),
                    full_page=True)
