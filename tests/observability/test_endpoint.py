"""GET /metrics: only with the token, only on staff hosts; label values for odd slugs; backlog."""

from datetime import timedelta

import pytest
from django.utils import timezone

from observability.metrics import tenant_label, webhook_answer_observe
from tests.factories import TenantFactory
from zoom_integration.models import DeliveryStatus, ZoomWebhookDelivery

from .conftest import TOKEN, samples, scrape, value

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}",
                                           "Bearer", f"Bearer {TOKEN}x", f"bearer {TOKEN[:-1]}"])
def test_a_scrape_without_the_token_gets_401_and_no_metrics(client, authorization):
    headers = {"host": "localhost"}
    if authorization is not None:
        headers["authorization"] = authorization
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"portal_" not in response.content


def test_no_token_configured_answers_404_even_with_a_bearer(client, settings):
    settings.PORTAL_METRICS_TOKEN = ""
    response = client.get("/metrics", headers={"host": "localhost",
                                               "authorization": "Bearer anything"})
    assert response.status_code == 404


def test_a_customer_hostname_never_serves_metrics(client, tenant):
    response = client.get("/metrics", headers={"host": f"{tenant.slug}.portal.test",
                                               "authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 404
    assert b"portal_" not in response.content


def test_a_host_outside_the_staff_hosts_never_gets_metrics(client, settings):
    settings.PORTAL_STAFF_HOSTS = ["ops.portal.test"]
    response = client.get("/metrics", headers={"host": "elsewhere.example",
                                               "authorization": f"Bearer {TOKEN}"})
    # The host check answers 400 before the view; the view itself would say 404.
    assert response.status_code in (400, 404)
    assert b"portal_" not in response.content
    assert scrape(client, host="ops.portal.test")


def test_the_scheme_is_case_insensitive_and_post_is_refused(client):
    ok = client.get("/metrics", headers={"host": "localhost",
                                         "authorization": f"bearer {TOKEN}"})
    assert ok.status_code == 200
    post = client.post("/metrics", headers={"host": "localhost",
                                            "authorization": f"Bearer {TOKEN}"})
    assert post.status_code == 405


def test_an_odd_slug_is_a_valid_label_value(client):
    odd = 'we"ird\\slug\nwith newline and ünïcode' + "x" * 100
    webhook_answer_observe(tenant=odd, status=401, reason="bad_signature")
    got = samples(scrape(client))  # the parser accepts the whole scrape
    label = tenant_label(odd)
    assert len(label) == 64
    assert value(got, "portal_webhook_deliveries_refused_total", tenant=label,
                 reason="bad_signature") == 1


def test_an_odd_stored_slug_reaches_the_gauges(client):
    tenant = TenantFactory(slug="acme-ü_2")
    got = samples(scrape(client))
    assert value(got, "portal_webhook_deliveries_pending", tenant="acme-ü_2") == 0
    assert value(got, "portal_tenant_health", tenant=tenant.slug,
                 health="awaiting_validation") == 1


def test_pending_backlog_and_its_oldest_age(client, tenant):
    old = ZoomWebhookDelivery.objects.create(tenant=tenant, event="user.created",
                                             dedupe_key="a", body="{}", status="pending")
    ZoomWebhookDelivery.objects.create(tenant=tenant, event="user.created", dedupe_key="b",
                                       body="{}", status=DeliveryStatus.PENDING)
    ZoomWebhookDelivery.objects.create(tenant=tenant, event="user.created", dedupe_key="c",
                                       body="{}", status=DeliveryStatus.PROCESSED)
    ZoomWebhookDelivery.objects.filter(pk=old.pk).update(
        received_at=timezone.now() - timedelta(minutes=7))
    got = samples(scrape(client))
    assert value(got, "portal_webhook_deliveries_pending", tenant=tenant.slug) == 2
    age = value(got, "portal_webhook_oldest_pending_age_seconds", tenant=tenant.slug)
    assert 7 * 60 - 5 < age < 7 * 60 + 60


def test_inactive_tenants_are_not_reported(client):
    tenant = TenantFactory(is_active=False)
    got = samples(scrape(client))
    assert not [key for key in got if ("tenant", tenant.slug) in key[1]]


def test_queue_depths_and_live_workers_come_from_redis(client, redis_client, settings):
    from observability.workers import worker_heartbeat

    redis_client.rpush("sync", "m1", "m2")
    redis_client.rpush("sync\x06\x163", "m3")
    worker_heartbeat(hostname="celery@worker-a")
    worker_heartbeat(hostname="celery@worker-b")
    got = samples(scrape(client))
    assert value(got, "portal_celery_queue_length", queue="sync") == 3
    assert value(got, "portal_celery_queue_length", queue="webhooks") == 0
    assert value(got, "portal_celery_workers") == 2


def test_an_unreachable_broker_is_reported_and_the_rest_still_answers(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    got = samples(scrape(client))
    assert value(got, "portal_metrics_source_up", source="broker") == 0
    assert value(got, "portal_metrics_source_up", source="database") == 1
    assert not [key for key in got if key[0] == "portal_celery_queue_length"]


def test_daily_cap_share_comes_from_the_usage_counts(client, tenant):
    from zoom_integration.models import ApiUsage

    day = timezone.now().date()
    ApiUsage.objects.create(tenant=tenant, day=day, category="Heavy", calls=48_000)
    got = samples(scrape(client))
    cap = value(got, "portal_zoom_daily_cap", tenant=tenant.slug)
    assert value(got, "portal_zoom_daily_calls", tenant=tenant.slug) == 48_000
    assert value(got, "portal_zoom_daily_cap_used_ratio", tenant=tenant.slug) == \
        pytest.approx(48_000 / cap)
