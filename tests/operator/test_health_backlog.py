"""Tenant health warns of meeting fetches parked on Zoom's daily cap: how many, the oldest end,
when fetching resumes and when it should be through, linked to those meetings; only for the
tenant that has them, and only for staff granted that tenant."""

import datetime as dt

import pytest
from django.utils import timezone
from django.utils.html import escape

from tests.factories import MeetingFactory, TenantFactory, ZoomConnectionFactory
from zoom_integration.selectors.health import (
    HealthCode,
    backlog_from_row,
    tenant_backlog_warning,
    tenant_health,
    tenant_health_row,
)

pytestmark = pytest.mark.django_db

OVERVIEW = "/admin/zoom_integration/tenanthealth/"
MEETINGS = "/admin/zoom_integration/zoommeeting/"
OLDEST_END = dt.datetime(2026, 11, 30, 8, 41, tzinfo=dt.UTC)
FIXED_NOW = dt.datetime(2026, 11, 30, 23, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _small_cap(settings):
    # 5 capped calls a day and 10 Heavy a second: a few parked meetings take a whole extra day,
    # so the clearing time differs from the resume time by a day, not by seconds.
    settings.ZOOM_RATE_LIMIT_OVERRIDES = {"combined_per_day": 5, "Heavy": {"per_second": 10}}


def reset_ahead() -> dt.datetime:
    """A 00:00 UTC two days ahead: still in the future however long the test takes."""
    return (timezone.now() + dt.timedelta(days=2)).replace(hour=0, minute=0, second=0,
                                                          microsecond=0)


def park(tenant, count: int, *, resumes: dt.datetime, oldest_end=OLDEST_END):
    """`count` meetings parked until `resumes`, the first ended at `oldest_end`, later ones
    an hour apart after it."""
    return [MeetingFactory(tenant=tenant, fetch_status="parked", next_attempt_at=resumes,
                           end_time=oldest_end + dt.timedelta(hours=i)) for i in range(count)]


def shown(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def parked_link(tenant) -> str:
    return f"{MEETINGS}?tenant__id__exact={tenant.pk}&amp;fetch_status__exact=parked"


def test_the_tenant_page_says_how_many_since_when_and_when_they_clear(staff_client):
    tenant = TenantFactory(name="Parked Co")
    ZoomConnectionFactory(tenant=tenant)
    resumes = reset_ahead()
    park(tenant, 3, resumes=resumes)
    MeetingFactory(tenant=tenant, fetch_status="done")  # not parked: not counted
    # 3 meetings at the default 10 participants cost 9 calls: 5 on the first day, the rest
    # (4 calls at 8 a second) the next day, half a second after its reset.
    expected = (f"3 meetings wait for Zoom's daily limit (oldest ended 2026-11-30 08:41 UTC); "
                f"fetching resumes at {shown(resumes)} and should be through by "
                f"{shown(resumes + dt.timedelta(days=1))}.")
    client = staff_client("zoom_integration.view_tenanthealth",
                          "zoom_integration.view_zoommeeting")

    page = client.get(f"{OVERVIEW}{tenant.pk}/checklist/").content.decode()
    assert 'id="fetch-backlog"' in page
    assert escape(expected) in page
    assert f'<a href="{parked_link(tenant)}">Parked meetings</a>' in page

    # The overview says it too (count and oldest end; the estimate is on the tenant's page).
    overview = client.get(OVERVIEW).content.decode()
    assert escape("3 meetings wait for Zoom's daily limit (oldest ended 2026-11-30 08:41 "
                  "UTC).") in overview
    assert parked_link(tenant) in overview

    # The link lists exactly the parked meetings.
    listed = client.get(parked_link(tenant).replace("&amp;", "&")).content.decode()
    assert listed.count('class="action-select"') == 3


def test_a_backlog_is_a_warning_not_an_error(tenant):
    ZoomConnectionFactory(tenant=tenant)
    park(tenant, 2, resumes=reset_ahead())
    health = tenant_health(tenant=tenant)
    assert health.code == HealthCode.HEALTHY
    assert "wait" not in health.reason  # the warning is beside the status, not its reason


def test_one_meeting_without_an_end_and_a_reset_already_past():
    tenant = TenantFactory()
    MeetingFactory(tenant=tenant, fetch_status="parked", end_time=None,
                   next_attempt_at=FIXED_NOW - dt.timedelta(minutes=3))
    # One meeting, 3 calls at 8 a second: through in the same minute it resumes (now).
    assert tenant_backlog_warning(tenant=tenant, now=FIXED_NOW) == (
        "1 meeting waits for Zoom's daily limit; fetching resumes now and should be through "
        "by 2026-11-30 23:00 UTC.")
    assert backlog_from_row(tenant_health_row(tenant=tenant)) == (
        "1 meeting waits for Zoom's daily limit.")


def test_without_parked_meetings_nothing_is_said(staff_client):
    calm = TenantFactory(name="Calm Co")
    ZoomConnectionFactory(tenant=calm)
    MeetingFactory(tenant=calm, fetch_status="done")
    MeetingFactory(tenant=calm, fetch_status="scheduled")
    busy = TenantFactory(name="Busy Co")
    ZoomConnectionFactory(tenant=busy)
    park(busy, 4, resumes=reset_ahead())
    client = staff_client("zoom_integration.view_tenanthealth",
                          "zoom_integration.view_zoommeeting")

    page = client.get(f"{OVERVIEW}{calm.pk}/checklist/").content.decode()
    assert 'id="fetch-backlog"' not in page
    assert "daily limit" not in page and "fetch_status__exact=parked" not in page
    assert tenant_backlog_warning(tenant=calm) == ""

    overview = client.get(OVERVIEW).content.decode()
    assert overview.count('op-warn op-backlog"') == 1  # Busy Co's only
    assert "4 meetings wait" in overview
    assert parked_link(calm) not in overview and parked_link(busy) in overview


def test_without_the_meetings_permission_the_warning_has_no_link(staff_client):
    tenant = TenantFactory()
    ZoomConnectionFactory(tenant=tenant)
    park(tenant, 2, resumes=reset_ahead())
    client = staff_client("zoom_integration.view_tenanthealth")
    page = client.get(f"{OVERVIEW}{tenant.pk}/checklist/").content.decode()
    assert "2 meetings wait for Zoom" in page
    assert "fetch_status__exact=parked" not in page
    assert "fetch_status__exact=parked" not in client.get(OVERVIEW).content.decode()


def test_staff_of_another_tenant_do_not_see_it(staff_client):
    mine, theirs = TenantFactory(name="Mine Co"), TenantFactory(name="Theirs Co")
    for tenant in (mine, theirs):
        ZoomConnectionFactory(tenant=tenant)
    resumes = reset_ahead()
    park(mine, 1, resumes=resumes, oldest_end=OLDEST_END + dt.timedelta(days=1))
    hidden = park(theirs, 4, resumes=resumes)
    client = staff_client("zoom_integration.view_tenanthealth",
                          "zoom_integration.view_zoommeeting", tenants=[mine])

    overview = client.get(OVERVIEW).content.decode()
    assert "1 meeting waits for Zoom" in overview  # their own backlog, counted alone
    assert "4 meetings wait" not in overview and "5 meetings wait" not in overview
    assert "2026-11-30 08:41" not in overview  # nor the oldest end of theirs
    assert parked_link(theirs) not in overview
    assert client.get(f"{OVERVIEW}{theirs.pk}/checklist/").status_code == 403
    # Their parked meetings stay out of the list, even asked for by the link's filter.
    listed = client.get(MEETINGS, {"tenant__id__exact": theirs.pk,
                                   "fetch_status__exact": "parked"}).content.decode()
    assert not any(f'value="{meeting.pk}" class="action-select"' in listed
                   for meeting in hidden)


def test_the_overview_stays_one_query_however_many_tenants_wait(
        staff_client, django_assert_max_num_queries):
    resumes = reset_ahead()
    for _ in range(8):
        tenant = TenantFactory()
        ZoomConnectionFactory(tenant=tenant)
        park(tenant, 2, resumes=resumes)
    client = staff_client("zoom_integration.view_tenanthealth",
                          "zoom_integration.view_zoommeeting")
    with django_assert_max_num_queries(12):  # as many as without a backlog
        overview = client.get(OVERVIEW).content.decode()
    assert overview.count("2 meetings wait for Zoom") == 8
