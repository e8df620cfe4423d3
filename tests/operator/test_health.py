"""Tenant health: one status per tenant from data, and the overview page."""

import datetime as dt

import pytest
from django.utils import timezone

from tests.factories import (
    MeetingFactory,
    SyncRunFactory,
    TenantFactory,
    ZoomConnectionFactory,
    ZoomUserFactory,
    ZoomWebhookDeliveryFactory,
    add_usage,
)
from zoom_integration.capabilities import connection_capabilities_apply
from zoom_integration.models import ConnectionState, DeliveryStatus, SyncRun
from zoom_integration.selectors.health import (
    HealthCode,
    counted,
    tenant_health,
    tenant_health_overview,
)

pytestmark = pytest.mark.django_db

OVERVIEW = "/admin/zoom_integration/tenanthealth/"


def code(tenant):
    return tenant_health(tenant=tenant).code


def test_missing_secret_or_host_needs_credentials():
    tenant = TenantFactory(client_secret="")
    health = tenant_health(tenant=tenant)
    assert health.code == HealthCode.NEEDS_CREDENTIALS
    assert "Client Secret" in health.reason
    assert "Client ID" not in health.reason

    no_host = TenantFactory(primary_domain=None)
    assert code(no_host) == HealthCode.NEEDS_CREDENTIALS
    assert "primary hostname" in tenant_health(tenant=no_host).reason


def test_legacy_verification_token_alone_is_not_healthy():
    # Zoom retired the Verification Token in 2025: without a Secret Token, credentials lack.
    tenant = TenantFactory(secret_token="", verification_token="legacyVerifToken0001")
    assert code(tenant) == HealthCode.NEEDS_CREDENTIALS
    assert "Secret Token" in tenant_health(tenant=tenant).reason


def test_undecryptable_secret_is_reported_not_crashing(tenant):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("UPDATE tenants_tenant SET secret_token = %s WHERE id = %s",
                       ["gAAAAABnotavalidfernettoken", tenant.pk])
    health = tenant_health(tenant=tenant)
    assert health.code == HealthCode.NEEDS_CREDENTIALS
    assert "cannot be decrypted" in health.reason


def test_statuses_move_as_the_customer_progresses(tenant):
    assert code(tenant) == HealthCode.AWAITING_VALIDATION
    conn = ZoomConnectionFactory(tenant=tenant, state=ConnectionState.NOT_CONNECTED,
                                 authorized_at=None, endpoint_validated_at=timezone.now())
    assert code(tenant) == HealthCode.AWAITING_AUTHORIZATION
    conn.state = ConnectionState.CONNECTED
    conn.save()
    health = tenant_health(tenant=tenant)
    assert health.code == HealthCode.HEALTHY and health.is_healthy

    # Only the optional overview scope missing: still healthy.
    connection_capabilities_apply(conn, keep_refused=False, scope=(
        "user:read:admin group:read:admin dashboard_meetings:read:admin "
        "dashboard_webinars:read:admin"))
    conn.save()
    assert code(tenant) == HealthCode.HEALTHY
    # A granular app without the QoS scope: named in granular names.
    granular = ("user:read:user:admin user:read:list_users:admin group:read:list_groups:admin "
                "group:read:list_members:admin dashboard:read:list_meetings:admin "
                "dashboard:read:meeting:admin dashboard:read:list_meeting_participants:admin "
                "dashboard:read:list_webinars:admin dashboard:read:webinar:admin "
                "dashboard:read:list_webinar_participants:admin "
                "dashboard:read:list_webinar_participants_qos:admin")
    connection_capabilities_apply(conn, keep_refused=False, scope=granular)
    conn.save()
    health = tenant_health(tenant=tenant)
    assert health.code == HealthCode.MISSING_SCOPES and not health.is_healthy
    assert "dashboard:read:list_meeting_participants_qos:admin" in health.reason
    assert "add it in Zoom, then authorize again" in health.reason

    connection_capabilities_apply(
        conn, keep_refused=False,
        scope=granular + " dashboard:read:list_meeting_participants_qos:admin")
    conn.save()
    assert code(tenant) == HealthCode.HEALTHY
    conn.state = ConnectionState.NEEDS_REAUTH
    conn.save()
    assert code(tenant) == HealthCode.NEEDS_REAUTH
    conn.state = ConnectionState.DEAUTHORIZED
    conn.save()
    assert code(tenant) == HealthCode.DEAUTHORIZED


def test_an_arriving_event_counts_as_validation(tenant):
    ZoomConnectionFactory(tenant=tenant, endpoint_validated_at=None)
    assert code(tenant) == HealthCode.AWAITING_VALIDATION
    ZoomWebhookDeliveryFactory(tenant=tenant, status=DeliveryStatus.PROCESSED)
    assert code(tenant) == HealthCode.HEALTHY


@pytest.mark.parametrize("trouble", ["delivery", "sync", "fetch", "conn_error", "dashboard"])
def test_errors_when_something_failed_recently(tenant, trouble):
    conn = ZoomConnectionFactory(tenant=tenant)
    assert code(tenant) == HealthCode.HEALTHY
    if trouble == "delivery":
        ZoomWebhookDeliveryFactory(tenant=tenant, status=DeliveryStatus.FAILED)
        expected = "1 webhook delivery failed"
    elif trouble == "sync":
        SyncRunFactory(tenant=tenant, status=SyncRun.Status.FAILED, error="boom 500")
        expected = "boom 500"
    elif trouble == "fetch":
        MeetingFactory(tenant=tenant, fetch_status="failed", end_time=timezone.now())
        expected = "1 meeting metrics fetch failed"
    elif trouble == "conn_error":
        conn.last_error = "Zoom answered 500"
        conn.last_error_at = timezone.now()
        conn.save()
        expected = "Zoom answered 500"
    else:
        conn.dashboard_available = False
        conn.save()
        expected = "no Dashboard"
    health = tenant_health(tenant=tenant)
    assert health.code == HealthCode.ERRORS
    assert expected in health.reason


@pytest.mark.parametrize(("failures", "deliveries", "fetches"), [
    (1, "1 webhook delivery failed", "1 meeting metrics fetch failed"),
    (2, "2 webhook deliveries failed", "2 meeting metrics fetches failed"),
])
def test_failure_counts_use_singular_and_plural(tenant, failures, deliveries, fetches):
    ZoomConnectionFactory(tenant=tenant)
    ZoomWebhookDeliveryFactory.create_batch(failures, tenant=tenant, status=DeliveryStatus.FAILED)
    MeetingFactory.create_batch(failures, tenant=tenant, fetch_status="failed",
                                end_time=timezone.now())
    reason = tenant_health(tenant=tenant).reason
    assert reason.startswith(deliveries + " in the last 24 hours")
    assert fetches + " in the last 24 hours" in reason


def test_counted_words_the_noun_by_count():
    assert counted(0, "user", "users") == "0 users"
    assert counted(1, "user", "users") == "1 user"
    assert counted(2, "webhook delivery", "webhook deliveries") == "2 webhook deliveries"


def test_old_failures_and_recovered_errors_do_not_count(tenant):
    conn = ZoomConnectionFactory(tenant=tenant)
    old = ZoomWebhookDeliveryFactory(tenant=tenant, status=DeliveryStatus.FAILED)
    type(old).objects.filter(pk=old.pk).update(received_at=timezone.now() - dt.timedelta(days=3))
    conn.last_error, conn.last_error_at = "transient", timezone.now() - dt.timedelta(hours=1)
    conn.last_refreshed_at = timezone.now()
    conn.save()
    SyncRunFactory(tenant=tenant, status=SyncRun.Status.FAILED)
    SyncRunFactory(tenant=tenant, status=SyncRun.Status.SUCCEEDED)  # the latest one wins
    assert code(tenant) == HealthCode.HEALTHY


def test_overview_annotations(tenant):
    ZoomConnectionFactory(tenant=tenant)
    ZoomWebhookDeliveryFactory(tenant=tenant, event="user.created",
                               status=DeliveryStatus.PROCESSED)
    ZoomWebhookDeliveryFactory(tenant=tenant, status=DeliveryStatus.FAILED)
    SyncRunFactory(tenant=tenant)
    ZoomUserFactory.create_batch(3, tenant=tenant)
    ZoomUserFactory(tenant=tenant, deleted_at=timezone.now())
    add_usage(tenant, calls=1200, category="Heavy")
    add_usage(tenant, calls=300, category="Resource-intensive", rate_limited=2)
    add_usage(tenant, calls=5000, category="Medium")
    add_usage(tenant, calls=999, category="Heavy", day=timezone.now().date() - dt.timedelta(1))
    tenant.zoom_plan = "pro"
    tenant.save()
    row = tenant_health_overview().get(pk=tenant.pk)
    assert row.h_failed_deliveries == 1
    assert row.h_users == 3
    assert row.h_api_calls_today == 1500  # Heavy + Resource-intensive only, today only
    assert row.h_api_calls_today_all == 6500
    assert row.h_rate_limited_today == 2
    assert row.h_daily_cap == 30_000
    assert row.h_last_sync_status == SyncRun.Status.SUCCEEDED


def test_overview_page_lists_sorts_and_filters(staff_client, django_assert_max_num_queries):
    healthy = TenantFactory(name="Healthy Co")
    ZoomConnectionFactory(tenant=healthy)
    broken = TenantFactory(name="Broken Co")
    ZoomConnectionFactory(tenant=broken)
    ZoomWebhookDeliveryFactory(tenant=broken, status=DeliveryStatus.FAILED)
    waiting = TenantFactory(name="Waiting Co", client_secret="")
    for _ in range(10):  # more tenants must not mean more queries
        ZoomConnectionFactory(tenant=TenantFactory())
    client = staff_client("zoom_integration.view_tenanthealth")
    with django_assert_max_num_queries(12):
        response = client.get(OVERVIEW)
    assert response.status_code == 200
    html = response.content.decode()
    # Worst first by default: errors before needs-credentials before healthy.
    assert html.index("Broken Co") < html.index("Waiting Co") < html.index("Healthy Co")
    assert "Needs credentials" in html and "Errors" in html

    response = client.get(OVERVIEW, {"status": HealthCode.ERRORS})
    html = response.content.decode()
    assert "Broken Co" in html and "Healthy Co" not in html and "Waiting Co" not in html

    response = client.get(OVERVIEW, {"o": "-0"})  # by name (column 0), descending
    html = response.content.decode()
    assert html.index("Waiting Co") < html.index("Healthy Co") < html.index("Broken Co")
    for column in range(1, 6):  # every other column sorts without an error
        assert client.get(OVERVIEW, {"o": str(column)}).status_code == 200
    assert client.get(OVERVIEW, {"q": "waiting"}).content.decode().count("Waiting Co") >= 1
    assert waiting.pk


def test_overview_needs_the_view_permission(staff_client):
    TenantFactory()
    client = staff_client("tenants.view_tenant")
    assert client.get(OVERVIEW).status_code == 403


def test_anonymous_is_sent_to_login(client):
    response = client.get(OVERVIEW)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
