"""Sync tasks (beat fan-out, parking) and the admin pages and "Sync users and groups now"."""

from datetime import timedelta

import pytest
import responses
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from zoom_integration.directory import tenants_due_sync_enqueue
from zoom_integration.models import SyncRun, ZoomUser
from zoom_integration.schedules import BEAT_SCHEDULE

from .conftest import API

pytestmark = pytest.mark.django_db


def _serve_directory():
    responses.get(f"{API}/groups", json={"groups": [{"id": "G1", "name": "Sales"}]})
    responses.get(f"{API}/users", json={"users": [{"id": "U1", "group_ids": ["G1"]}]})


def test_beat_schedule_names_the_tasks():
    tasks = {entry["task"] for entry in BEAT_SCHEDULE.values()}
    assert {"zoom_integration.tasks.webhook_pending_sweep",
            "zoom_integration.tasks.tokens_refresh_due",
            "zoom_integration.tasks.sync_due_tenants",
            "zoom_integration.tasks.metrics_parked_resume"} <= tasks
    assert BEAT_SCHEDULE["zoom-webhook-pending-sweep"]["schedule"] == 60.0


@responses.activate
def test_due_tenants_are_synced_then_not_due(connected, django_capture_on_commit_callbacks):
    _serve_directory()
    with django_capture_on_commit_callbacks(execute=True):
        assert tenants_due_sync_enqueue() == 1
    assert SyncRun.objects.filter(tenant=connected, status="succeeded").count() == 2
    assert ZoomUser.objects.filter(tenant=connected).count() == 1
    assert tenants_due_sync_enqueue() == 0
    # Due again after its interval.
    SyncRun.objects.update(started_at=timezone.now() - timedelta(hours=25))
    with django_capture_on_commit_callbacks() as callbacks:
        assert tenants_due_sync_enqueue() == 1
    assert len(callbacks) == 1


def test_inactive_or_unconnected_tenants_are_not_due(connected, tenant):
    from tests.factories import TenantFactory

    TenantFactory()  # never connected
    connected.is_active = False
    connected.save()
    assert tenants_due_sync_enqueue() == 0


@responses.activate
def test_daily_limit_parks_the_tenant(connected, django_capture_on_commit_callbacks):
    from zoom_integration.tasks.sync import sync_tenant_directory_task

    responses.get(f"{API}/groups", status=429, headers={"X-RateLimit-Type": "Daily-limit",
                                                       "Retry-After": "3600"},
                  json={"code": 429, "message": "daily"})
    result = sync_tenant_directory_task.apply(args=[connected.pk]).get()
    assert result["status"] == "parked"
    assert cache.get(f"zoom-directory-sync-parked:{connected.pk}")
    assert tenants_due_sync_enqueue() == 0


@responses.activate
def test_admin_pages_and_sync_now_action(connected, admin_client,
                                         django_capture_on_commit_callbacks):
    _serve_directory()
    url = reverse("admin:zoom_integration_tenantdirectory_changelist")
    assert admin_client.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"action": "sync_now",
                                           "_selected_action": [connected.pk]}, follow=True)
    assert response.status_code == 200
    assert "Queued a directory sync for 1 tenant" in response.content.decode()
    assert ZoomUser.objects.filter(tenant=connected).count() == 1
    for name in ("zoomuser", "zoomgroup", "syncrun"):
        page = admin_client.get(reverse(f"admin:zoom_integration_{name}_changelist"))
        assert page.status_code == 200, name
    run = SyncRun.objects.filter(tenant=connected).first()
    detail = admin_client.get(reverse("admin:zoom_integration_syncrun_change", args=[run.pk]))
    assert detail.status_code == 200 and "<progress" in detail.content.decode()


def test_sync_now_needs_the_change_tenant_permission(connected, client,
                                                     django_capture_on_commit_callbacks):
    from django.contrib.auth.models import Permission, User

    staff = User.objects.create_user("viewer", password="x", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_tenantdirectory"))
    client.force_login(staff)
    url = reverse("admin:zoom_integration_tenantdirectory_changelist")
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(url, {"action": "sync_now", "_selected_action": [connected.pk]},
                               follow=True)
    assert "You may not sync tenants" in response.content.decode()
    assert callbacks == []


def test_a_tenant_without_authorization_fails_cleanly(tenant):
    from zoom_integration.tasks.sync import sync_tenant_directory_task

    result = sync_tenant_directory_task.apply(args=[tenant.pk]).get()
    assert result["status"] == "failed" and "authorization" in result["error"]
    assert SyncRun.objects.get(tenant=tenant, kind="groups").status == "failed"
