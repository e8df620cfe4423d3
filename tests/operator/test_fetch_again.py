""""Fetch quality data again": the meeting page's button and the list action, per-tenant grants."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from portal_security.access import tenant_access_grant
from tests.factories import MeetingFactory, TenantFactory
from zoom_integration import messages
from zoom_integration.models import ZoomMeeting
from zoom_integration.models.metrics import FetchStatus

pytestmark = pytest.mark.django_db

LIST = "/admin/zoom_integration/zoommeeting/"
VIEW = "zoom_integration.view_zoommeeting"
CHANGE = "zoom_integration.change_zoommeeting"


def page_url(meeting):
    return reverse("admin:zoom_integration_zoommeeting_change", args=[meeting.pk])


def button_url(meeting):
    return reverse("admin:zoom_integration_zoommeeting_fetch_again", args=[meeting.pk])


def failed(tenant=None, **kw):
    return MeetingFactory(tenant=tenant or TenantFactory(), fetch_status=FetchStatus.FAILED,
                          fetch_attempts=7, last_error=messages.NOT_AUTHORIZED, **kw)


def login(client, make_staff, *perms, writable=(), readable=()):
    user = make_staff(*perms)
    for tenant in writable:
        tenant_access_grant(user=user, tenant=tenant, can_change=True)
    for tenant in readable:
        tenant_access_grant(user=user, tenant=tenant)
    client.force_login(user)
    return client


def test_the_button_resets_and_queues_the_fetch(client, make_staff,
                                                 django_capture_on_commit_callbacks):
    meeting = failed()
    login(client, make_staff, VIEW, CHANGE, writable=[meeting.tenant])
    page = client.get(page_url(meeting)).content.decode()
    assert 'id="fetch-again"' in page and button_url(meeting) in page
    assert escape(messages.NOT_AUTHORIZED) in page  # the reason, as a sentence

    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(button_url(meeting), follow=True)
    assert response.redirect_chain == [(page_url(meeting), 302)]
    assert "Queued a new fetch" in response.content.decode()
    assert len(queued) == 1
    meeting.refresh_from_db()
    assert (meeting.fetch_status, meeting.fetch_attempts, meeting.last_error) == (
        FetchStatus.SCHEDULED, 0, "")


def test_view_only_grant_sees_no_button_and_is_refused(client, make_staff,
                                                       django_capture_on_commit_callbacks):
    meeting = failed()
    login(client, make_staff, VIEW, CHANGE, readable=[meeting.tenant])
    assert 'id="fetch-again"' not in client.get(page_url(meeting)).content.decode()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert client.post(button_url(meeting)).status_code == 403
    assert queued == []
    assert ZoomMeeting.objects.get(pk=meeting.pk).fetch_status == FetchStatus.FAILED


def test_without_the_change_permission_there_is_no_button(client, make_staff):
    meeting = failed()
    login(client, make_staff, VIEW, writable=[meeting.tenant])
    assert 'id="fetch-again"' not in client.get(page_url(meeting)).content.decode()
    assert client.post(button_url(meeting)).status_code == 403
    assert "fetch_again" not in client.get(LIST).content.decode()


def test_the_button_is_post_only_and_hides_other_tenants(client, make_staff):
    meeting, hidden = failed(), failed()
    login(client, make_staff, VIEW, CHANGE, writable=[meeting.tenant])
    assert client.get(button_url(meeting)).status_code == 405
    assert client.post(button_url(hidden)).status_code == 404


def test_the_list_action_fetches_only_where_the_user_may_change(
        client, make_staff, django_capture_on_commit_callbacks):
    mine, viewed = failed(), failed()
    login(client, make_staff, VIEW, CHANGE, writable=[mine.tenant], readable=[viewed.tenant])
    assert "fetch_again" in client.get(LIST).content.decode()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(LIST, {"action": "fetch_again",
                                      "_selected_action": [mine.pk, viewed.pk]}, follow=True)
    text = response.content.decode()
    assert "Queued a new fetch of the quality data for 1 meeting;" in text
    assert "you may only view" in text
    assert len(queued) == 1
    mine.refresh_from_db()
    viewed.refresh_from_db()
    assert (mine.fetch_status, viewed.fetch_status) == (FetchStatus.SCHEDULED,
                                                        FetchStatus.FAILED)


def test_an_old_raw_error_reads_as_a_sentence_on_the_meeting_page(client, make_staff):
    meeting = MeetingFactory(fetch_status=FetchStatus.FAILED, last_error=(
        "ReauthorizationRequiredError: Tenant x has no usable Zoom authorization."))
    login(client, make_staff, VIEW, readable=[meeting.tenant])
    page = client.get(page_url(meeting)).content.decode()
    assert "ReauthorizationRequiredError" not in page
    assert escape(messages.NOT_AUTHORIZED) in page
