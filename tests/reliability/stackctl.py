"""Helpers the fault tests run inside a fresh process against their own stack (stack.Stack.call).

Each takes JSON-able keyword arguments and returns a JSON-able value.
"""

from __future__ import annotations

from datetime import timedelta


def tenant_create(*, slug: str, domain: str, client_id: str, client_secret: str,
                  secret_token: str, account_id: str = "") -> int:
    from tenants.models import Tenant, TenantDomain

    tenant = Tenant.objects.create(slug=slug, name=slug.title(), client_id=client_id,
                                   client_secret=client_secret, secret_token=secret_token,
                                   zoom_account_id=account_id)
    TenantDomain.objects.create(tenant=tenant, domain=domain, is_primary=True)
    return tenant.pk


def connection_create(*, slug: str, access_token: str, refresh_token: str,
                      expires_in: int = 3600, scopes: str = "") -> None:
    from django.utils import timezone

    from tenants.models import Tenant
    from zoom_integration.models import ConnectionState, ZoomConnection

    tenant = Tenant.objects.get(slug=slug)
    ZoomConnection.objects.update_or_create(tenant=tenant, defaults={
        "state": ConnectionState.CONNECTED, "access_token": access_token,
        "refresh_token": refresh_token, "scopes": scopes,
        "access_token_expires_at": timezone.now() + timedelta(seconds=expires_in),
        "authorized_at": timezone.now()})


def deliveries_summary(*, slug: str) -> dict:
    from django.db.models import Count

    from zoom_integration.models import ZoomUser, ZoomWebhookDelivery

    rows = ZoomWebhookDelivery.objects.filter(tenant__slug=slug)
    return {
        "stored": rows.count(),
        "by_status": dict(rows.values_list("status").annotate(n=Count("pk"))),
        "attempts": dict(rows.values_list("attempts").annotate(n=Count("pk"))),
        "duplicates": sum(rows.values_list("duplicates", flat=True)),
        "users": ZoomUser.objects.filter(tenant__slug=slug).count(),
        "errors": list(rows.exclude(last_error="").values_list("last_error", flat=True)[:5]),
    }


def sweep() -> int:
    from zoom_integration.webhooks.process import webhook_pending_sweep

    return webhook_pending_sweep(older_than_seconds=0)


def lease_expire(*, slug: str) -> int:
    """Ages deliveries stuck in "processing" past PROCESSING_LEASE, as if that time had passed
    (the sweeper then takes them up again, as it would in production after the lease)."""
    from django.utils import timezone

    from zoom_integration.models import DeliveryStatus, ZoomWebhookDelivery
    from zoom_integration.webhooks.process import PROCESSING_LEASE

    return ZoomWebhookDelivery.objects.filter(
        tenant__slug=slug, status=DeliveryStatus.PROCESSING).update(
            started_at=timezone.now() - PROCESSING_LEASE - timedelta(seconds=1))


def meeting_summary(*, uuid: str) -> dict:
    from zoom_integration.models import QosMinute, ZoomMeeting, ZoomParticipant

    meeting = ZoomMeeting.objects.filter(uuid=uuid).first()
    if meeting is None:
        return {}
    return {"fetch_status": meeting.fetch_status, "fetch_attempts": meeting.fetch_attempts,
            "participants": ZoomParticipant.objects.filter(meeting=meeting).count(),
            "qos_samples": QosMinute.objects.filter(participant__meeting=meeting).count(),
            "last_error": meeting.last_error}


def connection_summary(*, slug: str) -> dict:
    from zoom_integration.models import ZoomConnection

    conn = ZoomConnection.objects.get(tenant__slug=slug)
    return {"state": conn.state, "last_error": conn.last_error}
