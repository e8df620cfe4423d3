"""Recovery without a shell: a fetch that failed while the tenant was not authorized is fetched
once the customer authorizes again; the first directory sync follows the authorization; staff
read sentences, never exception class names."""

from datetime import timedelta
from urllib.parse import urlencode

import pytest
import responses
from django.utils import timezone

from tests.factories import MeetingFactory, SyncRunFactory, TenantFactory
from zoom_integration import messages
from zoom_integration.metrics import (
    REQUEUE_WINDOW,
    metrics_failed_requeue,
    metrics_fetch_again,
    metrics_fetch_attempt,
)
from zoom_integration.models import SyncRun, ZoomMeeting, ZoomUser
from zoom_integration.models.metrics import FetchStatus

from .conftest import API
from .test_metrics import UUID, _meeting, _serve_meeting

pytestmark = pytest.mark.django_db

TOKEN_URL = "https://zoom.us/oauth/token"


def _authorize_again(client, tenant):
    """The Installation URL flow's callback, with Zoom's token and /users/me answers."""
    responses.post(TOKEN_URL, json={
        "access_token": "acc-new", "token_type": "bearer", "refresh_token": "ref-new",
        "expires_in": 3599, "scope": "dashboard_meetings:read:admin user:read:admin"})
    responses.get(f"{API}/users/me", json={"id": "U1", "account_id": "Acct1",
                                           "email": "admin@cust.example"})
    return client.get("/adminapi/zoom/oauth/authorize?" + urlencode({"code": "c0de"}),
                      HTTP_HOST=f"{tenant.slug}.portal.test", secure=True)


def _serve_directory():
    responses.get(f"{API}/users", json={"users": [
        {"id": "U1", "email": "admin@cust.example", "status": "active", "type": 2}],
        "next_page_token": "", "total_records": 1})
    responses.get(f"{API}/groups", json={"groups": [], "total_records": 0})


def test_a_fetch_without_authorization_fails_with_a_sentence_for_staff(tenant):
    meeting = _meeting(tenant)  # the tenant never authorized the app
    assert metrics_fetch_attempt(meeting_id=meeting.pk) == {"status": "failed"}
    meeting.refresh_from_db()
    assert meeting.fetch_status == FetchStatus.FAILED
    assert meeting.last_error == messages.NOT_AUTHORIZED
    assert "Error" not in meeting.last_error  # no class name such as ReauthorizationRequired...


@responses.activate
def test_failed_while_unauthorized_then_authorized_again_the_meeting_is_fetched(
        client, tenant, django_capture_on_commit_callbacks):
    meeting = _meeting(tenant, end_time=timezone.now() - timedelta(minutes=30))
    metrics_fetch_attempt(meeting_id=meeting.pk)
    assert ZoomMeeting.objects.get(pk=meeting.pk).fetch_status == FetchStatus.FAILED
    _serve_meeting(n_participants=4)
    _serve_directory()

    # The customer authorizes; what it unblocks runs when it commits (eager tasks here).
    with django_capture_on_commit_callbacks(execute=True):
        response = _authorize_again(client, tenant)

    assert response.status_code == 302
    meeting.refresh_from_db()
    assert meeting.fetch_status == FetchStatus.DONE, meeting.last_error
    assert (meeting.participants_count, meeting.last_error, meeting.uuid) == (4, "", UUID)
    # The first directory sync ran at once, not at the next beat.
    runs = set(SyncRun.objects.filter(tenant=tenant).values_list("status", flat=True))
    assert runs == {SyncRun.Status.SUCCEEDED}
    assert ZoomUser.objects.filter(tenant=tenant).count() == 1


@responses.activate
def test_authorizing_again_after_a_good_sync_does_not_sync_again(
        client, tenant, django_capture_on_commit_callbacks):
    SyncRunFactory(tenant=tenant)
    with django_capture_on_commit_callbacks(execute=True):
        assert _authorize_again(client, tenant).status_code == 302
    assert SyncRun.objects.filter(tenant=tenant).count() == 1
    assert not [c for c in responses.calls if c.request.url.startswith(f"{API}/users?")]


@responses.activate
@pytest.mark.parametrize("earlier", ["another tenant's good sync", "a failed sync of its own"])
def test_authorizing_syncs_at_once_until_this_tenant_has_a_good_sync(
        client, tenant, django_capture_on_commit_callbacks, earlier):
    if earlier == "another tenant's good sync":
        SyncRunFactory(tenant=TenantFactory(), status=SyncRun.Status.SUCCEEDED)
    else:
        SyncRunFactory(tenant=tenant, status=SyncRun.Status.FAILED)
    _serve_directory()
    with django_capture_on_commit_callbacks(execute=True):
        assert _authorize_again(client, tenant).status_code == 302
    assert SyncRun.objects.filter(tenant=tenant, status=SyncRun.Status.SUCCEEDED).exists()
    assert ZoomUser.objects.filter(tenant=tenant).count() == 1


def test_requeue_takes_recent_failures_of_this_tenant_only(
        tenant, django_capture_on_commit_callbacks):
    now = timezone.now()
    recent = MeetingFactory(tenant=tenant, fetch_status=FetchStatus.FAILED, fetch_attempts=3,
                            last_error="old words", end_time=now - timedelta(days=1))
    too_old = MeetingFactory(tenant=tenant, fetch_status=FetchStatus.FAILED,
                             end_time=now - REQUEUE_WINDOW - timedelta(days=1))
    done = MeetingFactory(tenant=tenant, fetch_status=FetchStatus.DONE,
                          end_time=now - timedelta(days=1))
    other = MeetingFactory(fetch_status=FetchStatus.FAILED, end_time=now - timedelta(days=1))

    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert metrics_failed_requeue(tenant=tenant, now=now) == 1
    assert len(queued) == 1
    recent.refresh_from_db()
    assert (recent.fetch_status, recent.fetch_attempts, recent.last_error) == (
        FetchStatus.SCHEDULED, 0, "")
    for untouched, status in ((too_old, FetchStatus.FAILED), (done, FetchStatus.DONE),
                              (other, FetchStatus.FAILED)):
        untouched.refresh_from_db()
        assert untouched.fetch_status == status


def test_requeue_leaves_an_inactive_tenant_alone(django_capture_on_commit_callbacks):
    tenant = TenantFactory(is_active=False)
    MeetingFactory(tenant=tenant, fetch_status=FetchStatus.FAILED,
                   end_time=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert metrics_failed_requeue(tenant=tenant) == 0
    assert queued == []


def test_fetch_again_resets_any_status_and_skips_inactive_tenants(
        tenant, django_capture_on_commit_callbacks):
    failed = MeetingFactory(tenant=tenant, fetch_status=FetchStatus.FAILED, fetch_attempts=8,
                            last_error="x")
    done = MeetingFactory(tenant=tenant, fetch_status=FetchStatus.DONE)
    asleep = MeetingFactory(tenant=TenantFactory(is_active=False),
                            fetch_status=FetchStatus.FAILED)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        result = metrics_fetch_again(meeting_ids=[failed.pk, done.pk, asleep.pk])
    assert result == {"queued": 2, "inactive": 1} and len(queued) == 2
    assert set(ZoomMeeting.objects.filter(fetch_status=FetchStatus.SCHEDULED, fetch_attempts=0,
                                          last_error="").values_list("pk", flat=True)) == {
        failed.pk, done.pk}
    asleep.refresh_from_db()
    assert asleep.fetch_status == FetchStatus.FAILED


@pytest.mark.parametrize("stored, expected", [
    ("ReauthorizationRequiredError: Tenant acme has no usable Zoom authorization (Not "
     "connected).", messages.NOT_AUTHORIZED),
    ("ZoomAuthError: /users/me answered HTTP 401", messages.ACCESS_REFUSED),
    ("Zoom had no data yet.", "Zoom had no data yet."),
    ("", ""),
])
def test_stored_errors_from_before_are_reworded(stored, expected):
    assert messages.staff_text(stored) == expected


def test_every_error_class_has_a_sentence_with_what_to_do():
    from zoom_integration.exceptions import (
        ZoomAPIError,
        ZoomRateLimitedError,
        ZoomTransientError,
    )

    daily = ZoomRateLimitedError("limit", retry_after_seconds=60, daily=True)
    assert messages.staff_message(daily) == messages.DAILY_LIMIT
    refused = messages.staff_message(ZoomAPIError("Zoom said no", status=400, code=300))
    assert refused.startswith(messages.REFUSED) and refused.endswith("HTTP 400, code 300.")
    assert messages.staff_message(ZoomTransientError("timeout")) == messages.UNREACHABLE
    assert messages.staff_message(ValueError("boom")) == messages.UNEXPECTED
