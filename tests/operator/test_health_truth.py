"""Tenant health tells the truth: refused signatures, a revoke by staff, a tenant whose pages are
not served, and links from each problem to the affected items."""

import datetime as dt

import pytest
import responses
from django.utils import timezone
from django.utils.html import escape

from tests.factories import (
    MeetingFactory,
    SyncRunFactory,
    TenantFactory,
    ZoomConnectionFactory,
    ZoomWebhookDeliveryFactory,
)
from zoom_integration import oauth
from zoom_integration.models import DeliveryStatus, SyncRun, WebhookRejection
from zoom_integration.selectors.checklist import StepState, setup_checklist
from zoom_integration.selectors.health import HealthCode, tenant_health

pytestmark = pytest.mark.django_db

OVERVIEW = "/admin/zoom_integration/tenanthealth/"


def refused(tenant, *, count=12, at=None):
    at = at or timezone.now() - dt.timedelta(minutes=5)
    return WebhookRejection.objects.create(tenant=tenant, reason="bad_signature", day=at.date(),
                                           count=count, last_at=at)


def test_refused_signatures_say_check_the_secret_token(tenant, staff_client):
    ZoomConnectionFactory(tenant=tenant)
    refused(tenant)
    health = tenant_health(tenant=tenant)
    assert health.code == HealthCode.ERRORS
    assert health.reason.startswith("Zoom's events are refused: 12 had a bad signature")
    assert "Check the Secret Token" in health.reason

    page = staff_client("zoom_integration.view_tenanthealth",
                        "zoom_integration.view_webhookrejection").get(OVERVIEW)
    text = page.content.decode()
    assert "12 refused: bad signature" in text  # not a bare "0" failed deliveries
    assert (f"/admin/zoom_integration/webhookrejection/?tenant__id__exact={tenant.pk}"
            "&amp;reason__exact=bad_signature") in text


def test_a_delivery_accepted_since_clears_the_refusals(tenant):
    ZoomConnectionFactory(tenant=tenant)
    refused(tenant, at=timezone.now() - dt.timedelta(hours=2))
    ZoomWebhookDeliveryFactory(tenant=tenant, status=DeliveryStatus.PROCESSED)
    assert tenant_health(tenant=tenant).code == HealthCode.HEALTHY


def test_refusals_before_validation_are_named_too(tenant):
    refused(tenant, count=3)  # a wrong Secret Token: Zoom's URL validation fails as well
    health = tenant_health(tenant=tenant)
    assert health.code == HealthCode.ERRORS and "3 had a bad signature" in health.reason


@responses.activate
def test_revoked_by_staff_is_not_never_authorized(tenant):
    ZoomConnectionFactory(tenant=tenant)
    responses.post("https://zoom.us/oauth/revoke", json={"status": "success"})
    oauth.connection_revoke(tenant=tenant)

    health = tenant_health(tenant=tenant)
    assert health.code == HealthCode.AWAITING_AUTHORIZATION
    assert health.reason.startswith("Revoked by staff on ")
    assert "send the customer the link to authorize again" in health.reason
    assert "has not authorized" not in health.reason
    step = next(s for s in setup_checklist(tenant=tenant) if s.key == "authorize")
    assert step.state == StepState.PROBLEM and step.detail.startswith("Revoked by staff on ")


def test_a_tenant_without_a_primary_hostname_is_not_served():
    health = tenant_health(tenant=TenantFactory(primary_domain=None, client_secret=""))
    assert health.code == HealthCode.NEEDS_CREDENTIALS
    assert health.reason.startswith("No primary hostname: the customer's authorization link")
    assert "not served" in health.reason and "Also missing: Client Secret." in health.reason


def test_failed_items_are_linked_from_the_overview_and_the_checklist(staff_client):
    tenant = TenantFactory()
    ZoomConnectionFactory(tenant=tenant)
    failed = MeetingFactory(tenant=tenant, fetch_status="failed", end_time=timezone.now())
    MeetingFactory(tenant=tenant, fetch_status="done", end_time=timezone.now())
    SyncRunFactory(tenant=tenant, status=SyncRun.Status.FAILED,
                   error="ReauthorizationRequiredError: Tenant x has no usable authorization")
    client = staff_client("zoom_integration.view_tenanthealth",
                          "zoom_integration.view_zoommeeting", "zoom_integration.view_syncrun")
    meetings = (f"/admin/zoom_integration/zoommeeting/?tenant__id__exact={tenant.pk}"
                "&amp;fetch_status__exact=failed")
    overview = client.get(OVERVIEW).content.decode()
    assert f'<a href="{meetings}">1 meeting failed: fetch again</a>' in overview
    assert "failed sync</a>" in overview
    assert "ReauthorizationRequiredError" not in overview  # the sync's error, as a sentence
    checklist = client.get(f"{OVERVIEW}{tenant.pk}/checklist/").content.decode()
    assert 'id="affected-links"' in checklist and meetings in checklist

    listed = client.get(meetings.replace("&amp;", "&")).content.decode()
    assert escape(failed.topic) in listed and listed.count('class="action-select"') == 1


def test_links_only_where_the_user_may_go(staff_client):
    tenant = TenantFactory()
    ZoomConnectionFactory(tenant=tenant)
    MeetingFactory(tenant=tenant, fetch_status="failed", end_time=timezone.now())
    overview = staff_client("zoom_integration.view_tenanthealth").get(OVERVIEW).content.decode()
    assert "1 meeting metrics fetch failed" in overview  # the reason still says it
    assert "failed: fetch again" not in overview
