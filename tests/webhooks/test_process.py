"""Processing stored deliveries: dispatch, retries, failure, sweeper, admin, command."""

import io
import json
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from tests.factories import TenantFactory, ZoomWebhookDeliveryFactory, envelope
from zoom_integration.exceptions import RetryLater, ZoomRateLimitedError, ZoomTransientError
from zoom_integration.models import (
    ConnectionState,
    DeliveryStatus,
    WebhookRejection,
    ZoomConnection,
    ZoomMeeting,
    ZoomUser,
    ZoomWebhookDelivery,
)
from zoom_integration.tasks.webhooks import webhook_delivery_process_task
from zoom_integration.webhooks import process as webhooks
from zoom_integration.webhooks.process import (
    MAX_ATTEMPTS,
    WEBHOOK_HANDLERS,
    webhook_delivery_process,
    webhook_pending_sweep,
)

pytestmark = pytest.mark.django_db


def delivery_for(tenant, message: dict, **fields) -> ZoomWebhookDelivery:
    return ZoomWebhookDeliveryFactory(tenant=tenant, event=message["event"],
                                      body=json.dumps(message), **fields)


def refreshed(delivery) -> ZoomWebhookDelivery:
    delivery.refresh_from_db()
    return delivery


# --- each event handler, through the real services ----------------------------------------------

def test_user_created_updated_deleted_reach_the_directory(tenant):
    created = delivery_for(tenant, envelope("user.created", {
        "id": "Nn4Tt7", "first_name": "Ana", "last_name": "Ruiz", "email": "ana@cust.example",
        "type": 1}, event_ts=1000, creation_type="create"))
    webhook_delivery_process(delivery_id=created.pk)
    assert refreshed(created).status == DeliveryStatus.PROCESSED
    assert ZoomUser.objects.get(tenant=tenant, zoom_id="Nn4Tt7").last_name == "Ruiz"

    updated = delivery_for(tenant, {
        "event": "user.updated", "event_ts": 2000,
        "payload": {"account_id": "A", "object": {"id": "Nn4Tt7", "dept": "Sales"},
                    "old_object": {"id": "Nn4Tt7", "dept": "Support"}}})
    webhook_delivery_process(delivery_id=updated.pk)
    assert refreshed(updated).status == DeliveryStatus.PROCESSED
    user = ZoomUser.objects.get(tenant=tenant, zoom_id="Nn4Tt7")
    assert (user.dept, user.last_name) == ("Sales", "Ruiz")  # a partial patch

    deleted = delivery_for(tenant, envelope("user.deleted", {"id": "Nn4Tt7"}, event_ts=3000))
    webhook_delivery_process(delivery_id=deleted.pk)
    assert refreshed(deleted).status == DeliveryStatus.PROCESSED
    assert ZoomUser.objects.get(tenant=tenant, zoom_id="Nn4Tt7").deleted_at is not None


@pytest.mark.parametrize("event, kind", [("meeting.ended", "meeting"),
                                         ("webinar.ended", "webinar")])
def test_ended_events_record_the_instance(tenant, event, kind):
    delivery = delivery_for(tenant, envelope(event, {
        "id": "86012345678", "uuid": "qW3+kL0/Zx9==", "topic": "Weekly sync",
        "start_time": "2026-05-29T09:00:02Z", "end_time": "2026-05-29T09:47:40Z"}))
    webhook_delivery_process(delivery_id=delivery.pk)
    assert refreshed(delivery).status == DeliveryStatus.PROCESSED
    meeting = ZoomMeeting.objects.get(tenant=tenant, uuid="qW3+kL0/Zx9==")
    assert (meeting.kind, meeting.topic) == (kind, "Weekly sync")


def test_app_deauthorized_deauthorizes(tenant):
    ZoomConnection.objects.create(tenant=tenant, state=ConnectionState.CONNECTED,
                                  access_token="at-secret", refresh_token="rt-secret")
    delivery = delivery_for(tenant, {"event": "app_deauthorized", "payload": {
        "account_id": "Aq7Zp1", "user_id": "Uu8Xk2", "client_id": tenant.client_id,
        "deauthorization_time": "2026-05-29T10:00:00.000Z", "event_ts": 1717000000123}})
    webhook_delivery_process(delivery_id=delivery.pk)
    assert refreshed(delivery).status == DeliveryStatus.PROCESSED
    conn = ZoomConnection.objects.get(tenant=tenant)
    assert conn.state == ConnectionState.DEAUTHORIZED
    assert (conn.access_token, conn.refresh_token) == ("", "")


def test_every_handled_event_has_a_handler():
    assert set(WEBHOOK_HANDLERS) == {
        "user.created", "user.updated", "user.deleted", "user.activated", "user.deactivated",
        "user.disassociated", "group.created", "group.updated", "group.deleted",
        "group.member_added", "group.member_deleted", "meeting.ended", "webinar.ended",
        "app_deauthorized"}


def test_unknown_event_is_ignored(tenant):
    delivery = delivery_for(tenant, envelope("recording.completed", {"uuid": "x"}))
    webhook_delivery_process(delivery_id=delivery.pk)
    delivery = refreshed(delivery)
    assert delivery.status == DeliveryStatus.IGNORED
    assert delivery.processed_at is not None


def test_bad_payload_fails_at_once_with_the_error_and_traceback(tenant):
    delivery = delivery_for(tenant, envelope("meeting.ended", {"id": "1"}))  # no uuid
    webhook_delivery_process(delivery_id=delivery.pk)
    delivery = refreshed(delivery)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 1
    assert delivery.last_error.startswith("ValueError")
    assert "Traceback" in delivery.traceback
    assert "meeting_ended_record" in delivery.traceback
    assert not ZoomMeeting.objects.exists()


# --- idempotence, retries, failure ----------------------------------------------------------------

def test_processing_twice_does_the_work_once(tenant, monkeypatch):
    calls = []
    monkeypatch.setitem(WEBHOOK_HANDLERS, "test.count",
                        lambda **kw: calls.append(kw["envelope"]["event"]))
    delivery = delivery_for(tenant, {"event": "test.count"})
    webhook_delivery_process(delivery_id=delivery.pk)
    webhook_delivery_process(delivery_id=delivery.pk)
    assert calls == ["test.count"]
    assert refreshed(delivery).attempts == 1


def test_a_delivery_being_processed_is_left_alone(tenant, monkeypatch):
    calls = []
    monkeypatch.setitem(WEBHOOK_HANDLERS, "test.count", lambda **kw: calls.append(1))
    delivery = delivery_for(tenant, {"event": "test.count"}, status=DeliveryStatus.PROCESSING,
                            started_at=timezone.now())
    webhook_delivery_process(delivery_id=delivery.pk)
    assert calls == []
    # ...until its lease ran out (its worker died): then it is taken up again.
    ZoomWebhookDelivery.objects.filter(pk=delivery.pk).update(
        started_at=timezone.now() - webhooks.PROCESSING_LEASE - timedelta(seconds=1))
    webhook_delivery_process(delivery_id=delivery.pk)
    assert calls == [1]
    assert refreshed(delivery).status == DeliveryStatus.PROCESSED


def test_handler_writes_roll_back_on_failure(tenant, monkeypatch):
    def half_then_fail(*, tenant, event, envelope):
        ZoomUser.objects.create(tenant=tenant, zoom_id="half-written")
        raise KeyError("object")

    monkeypatch.setitem(WEBHOOK_HANDLERS, "test.half", half_then_fail)
    delivery = delivery_for(tenant, {"event": "test.half"})
    webhook_delivery_process(delivery_id=delivery.pk)
    assert refreshed(delivery).status == DeliveryStatus.FAILED
    assert not ZoomUser.objects.filter(zoom_id="half-written").exists()


def test_transient_error_is_retried_with_backoff(tenant, monkeypatch):
    def flaky(**kwargs):
        raise ZoomTransientError("Zoom answered 503", status=503)

    monkeypatch.setitem(WEBHOOK_HANDLERS, "test.flaky", flaky)
    delivery = delivery_for(tenant, {"event": "test.flaky"})
    before = timezone.now()
    with pytest.raises(RetryLater) as retry:
        webhook_delivery_process(delivery_id=delivery.pk)
    assert 0.8 * webhooks.RETRY_BASE_SECONDS <= retry.value.countdown <= \
        1.2 * webhooks.RETRY_BASE_SECONDS
    delivery = refreshed(delivery)
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 1
    assert "Zoom answered 503" in delivery.last_error
    # The sweeper will not queue it before its retry is due.
    assert delivery.due_at >= before + timedelta(seconds=0.8 * webhooks.RETRY_BASE_SECONDS)
    assert webhook_pending_sweep(older_than_seconds=0) == 0

    with pytest.raises(RetryLater) as retry:
        webhook_delivery_process(delivery_id=delivery.pk)
    assert retry.value.countdown >= 0.8 * 2 * webhooks.RETRY_BASE_SECONDS  # doubles


def test_rate_limit_retry_waits_at_least_what_zoom_asked(tenant, monkeypatch):
    def limited(**kwargs):
        raise ZoomRateLimitedError("429", retry_after_seconds=900, daily=False)

    monkeypatch.setitem(WEBHOOK_HANDLERS, "test.limited", limited)
    delivery = delivery_for(tenant, {"event": "test.limited"})
    with pytest.raises(RetryLater) as retry:
        webhook_delivery_process(delivery_id=delivery.pk)
    assert retry.value.countdown >= 900


@pytest.fixture
def eager_retries(monkeypatch):
    """Eager tasks that retry in place: with propagation on, Celery raises the Retry instead."""
    monkeypatch.setitem(webhook_delivery_process_task.app.conf, "task_eager_propagates", False)


def test_task_retries_then_parks_as_failed_after_max_attempts(tenant, monkeypatch,
                                                              eager_retries):
    calls = []

    def always_down(**kwargs):
        calls.append(1)
        raise ZoomTransientError("connection reset")

    monkeypatch.setitem(WEBHOOK_HANDLERS, "test.down", always_down)
    delivery = delivery_for(tenant, {"event": "test.down"})
    webhook_delivery_process_task.apply_async(kwargs={"delivery_id": delivery.pk})  # eager
    delivery = refreshed(delivery)
    assert len(calls) == MAX_ATTEMPTS
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == MAX_ATTEMPTS
    assert "connection reset" in delivery.last_error
    assert "ZoomTransientError" in delivery.traceback


def test_task_retry_succeeds_on_a_later_attempt(tenant, monkeypatch, eager_retries):
    calls = []

    def recovers(**kwargs):
        calls.append(1)
        if len(calls) < 3:
            raise ZoomTransientError("try later")

    monkeypatch.setitem(WEBHOOK_HANDLERS, "test.recovers", recovers)
    delivery = delivery_for(tenant, {"event": "test.recovers"})
    webhook_delivery_process_task.apply_async(kwargs={"delivery_id": delivery.pk})
    delivery = refreshed(delivery)
    assert (delivery.status, delivery.attempts, delivery.last_error) == (
        DeliveryStatus.PROCESSED, 3, "")


# --- sweeper ------------------------------------------------------------------------------------

def test_sweeper_queues_only_stale_pending_and_abandoned_deliveries(tenant, monkeypatch):
    calls = []
    monkeypatch.setitem(WEBHOOK_HANDLERS, "test.count",
                        lambda **kw: calls.append(kw["envelope"]["n"]))
    long_ago = timezone.now() - timedelta(minutes=10)
    lost = delivery_for(tenant, {"event": "test.count", "n": "lost"}, due_at=long_ago)
    delivery_for(tenant, {"event": "test.count", "n": "fresh"})  # its message is on its way
    delivery_for(tenant, {"event": "test.count", "n": "done"}, due_at=long_ago,
                 status=DeliveryStatus.PROCESSED)
    delivery_for(tenant, {"event": "test.count", "n": "failed"}, due_at=long_ago,
                 status=DeliveryStatus.FAILED)
    delivery_for(tenant, {"event": "test.count", "n": "running"}, due_at=long_ago,
                 status=DeliveryStatus.PROCESSING, started_at=timezone.now())
    abandoned = delivery_for(tenant, {"event": "test.count", "n": "abandoned"}, due_at=long_ago,
                             status=DeliveryStatus.PROCESSING, started_at=long_ago)
    assert webhook_pending_sweep(older_than_seconds=60) == 2  # eager: processed right here
    assert sorted(calls) == ["abandoned", "lost"]
    assert refreshed(lost).status == DeliveryStatus.PROCESSED
    assert refreshed(abandoned).status == DeliveryStatus.PROCESSED
    assert webhook_pending_sweep(older_than_seconds=60) == 0
    assert sorted(calls) == ["abandoned", "lost"]


# --- admin --------------------------------------------------------------------------------------

def test_admin_process_again_action(admin_client, tenant, monkeypatch):
    calls = []
    monkeypatch.setitem(WEBHOOK_HANDLERS, "test.count", lambda **kw: calls.append(1))
    failed = delivery_for(tenant, {"event": "test.count"}, status=DeliveryStatus.FAILED,
                          attempts=MAX_ATTEMPTS, last_error="KeyError: x")
    processed = delivery_for(tenant, {"event": "test.count"}, status=DeliveryStatus.PROCESSED)
    url = reverse("admin:zoom_integration_zoomwebhookdelivery_changelist")
    page = admin_client.get(url)
    assert page.status_code == 200
    assert b'value="process_again"' in page.content
    response = admin_client.post(url, {"action": "process_again",
                                       "_selected_action": [failed.pk, processed.pk]},
                                 follow=True)
    assert response.status_code == 200
    assert "Queued 2 of 2 deliveries" in response.content.decode()
    assert calls == [1, 1]
    assert refreshed(failed).status == DeliveryStatus.PROCESSED
    assert refreshed(failed).attempts == 1  # a fresh budget
    assert refreshed(failed).last_error == ""


def test_admin_is_read_only_and_action_needs_change_permission(client, tenant,
                                                                django_user_model):
    delivery = delivery_for(tenant, {"event": "test.x"})
    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_zoomwebhookdelivery"))
    client.force_login(viewer)
    url = reverse("admin:zoom_integration_zoomwebhookdelivery_changelist")
    # Without a TenantAccess grant the list is empty; grant it to see the delivery.
    from portal_security.access import tenant_access_grant

    tenant_access_grant(user=viewer, tenant=tenant)
    page = client.get(url)
    assert page.status_code == 200
    assert b'value="process_again"' not in page.content
    detail = client.get(reverse("admin:zoom_integration_zoomwebhookdelivery_change",
                                args=[delivery.pk]))
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content
    assert client.get(reverse("admin:zoom_integration_zoomwebhookdelivery_add")
                      ).status_code == 403


def test_admin_shows_the_payload_as_pretty_json(admin_client, tenant):
    delivery = delivery_for(tenant, {"event": "user.created", "payload": {
        "object": {"first_name": "Zoë"}}})
    page = admin_client.get(reverse("admin:zoom_integration_zoomwebhookdelivery_change",
                                    args=[delivery.pk])).content.decode()
    assert '<pre class="webhook-payload">' in page
    assert '\n      &quot;first_name&quot;: &quot;Zoë&quot;' in page


def test_admin_filters_by_tenant_event_status_and_date(admin_client, tenant):
    other = TenantFactory()
    delivery_for(tenant, {"event": "user.created"})
    delivery_for(other, {"event": "meeting.ended"}, status=DeliveryStatus.FAILED)
    url = reverse("admin:zoom_integration_zoomwebhookdelivery_changelist")
    today = timezone.now()
    for query, count in [({"tenant__id__exact": tenant.pk}, 1),
                         ({"event": "meeting.ended"}, 1),
                         ({"status__exact": "failed"}, 1),
                         ({"received_at__year": today.year, "received_at__month": today.month},
                          2)]:
        response = admin_client.get(url, query)
        assert response.status_code == 200, query
        assert response.context["cl"].result_count == count, query


def test_rejection_admin_totals_by_reason(admin_client, tenant):
    now = timezone.now()
    WebhookRejection.objects.create(tenant=tenant, reason="bad_signature", day=now.date(),
                                    count=4, last_at=now)
    WebhookRejection.objects.create(tenant=tenant, reason="bad_signature",
                                    day=(now - timedelta(days=1)).date(), count=3, last_at=now)
    WebhookRejection.objects.create(tenant=tenant, reason="stale_timestamp", day=now.date(),
                                    count=2, last_at=now)
    response = admin_client.get(reverse("admin:zoom_integration_webhookrejection_changelist"))
    assert response.status_code == 200
    totals = {row["reason"]: row["total"] for row in response.context["rejections_by_reason"]}
    assert totals == {"bad_signature": 7, "stale_timestamp": 2}
    assert "Signature does not match the Secret Token" in response.content.decode()


# --- webhook_reprocess --------------------------------------------------------------------------

def test_command_reprocesses_failed_deliveries(tenant, monkeypatch):
    calls = []
    monkeypatch.setitem(WEBHOOK_HANDLERS, "test.count", lambda **kw: calls.append(1))
    failed = [delivery_for(tenant, {"event": "test.count", "n": n}, status=DeliveryStatus.FAILED)
              for n in range(2)]
    delivery_for(tenant, {"event": "test.count", "n": 9}, status=DeliveryStatus.PROCESSED)
    out = io.StringIO()
    call_command("webhook_reprocess", "--failed", stdout=out)
    assert calls == [1, 1]
    assert "reprocessed 2 deliveries: 2 processed" in out.getvalue()
    assert all(refreshed(d).status == DeliveryStatus.PROCESSED for d in failed)


def test_command_reprocesses_by_id_and_reports_failure(tenant):
    bad = delivery_for(tenant, envelope("meeting.ended", {"id": "1"}),
                       status=DeliveryStatus.FAILED)
    with pytest.raises(CommandError, match="1 delivery failed again"):
        call_command("webhook_reprocess", "--ids", str(bad.pk), stdout=io.StringIO())
    assert refreshed(bad).status == DeliveryStatus.FAILED


def test_command_unknown_id_is_one_clear_line(tenant):
    with pytest.raises(CommandError, match="no webhook delivery with id 999999"):
        call_command("webhook_reprocess", "--ids", "999999")


@pytest.mark.parametrize("args, expected", [
    ([], "one of the arguments --failed --ids is required"),
    (["--ids", "abc"], "invalid int value: 'abc'"),
    (["--failed", "--ids", "1"], "not allowed with argument"),
])
def test_command_bad_arguments_exit_2_with_one_line(args, expected):
    env = {"DJANGO_SETTINGS_MODULE": "nectar_portal.settings.test", "PATH": "/usr/bin:/bin",
           "DATABASE_URL": _database_url(), "REDIS_URL": settings.REDIS_URL}
    result = subprocess.run([sys.executable, "manage.py", "webhook_reprocess", *args],
                            capture_output=True, text=True, env=env, timeout=60,
                            cwd=settings.BASE_DIR)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


def _database_url() -> str:
    db = settings.DATABASES["default"]
    return (f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}")


def test_task_retries_soon_when_the_database_is_unreachable(monkeypatch):
    """OperationalError before the row is claimed: retried by the task, not left to the sweeper."""
    from django.db import OperationalError

    from zoom_integration.tasks.webhooks import webhook_delivery_process_task
    from zoom_integration.webhooks import process as webhooks

    def database_gone(*, delivery_id):
        raise OperationalError("connection refused")

    class Retried(Exception):
        pass

    asked = {}

    def record_retry(*, countdown, exc):
        asked.update(countdown=countdown, exc=exc)
        return Retried()

    monkeypatch.setattr(webhooks, "webhook_delivery_process", database_gone)
    monkeypatch.setattr(webhook_delivery_process_task, "retry", record_retry)
    with pytest.raises(Retried):
        webhook_delivery_process_task.run(1)
    assert asked["countdown"] == 5 and isinstance(asked["exc"], OperationalError)
