"""Fixtures for the OAuth tests: a connected tenant, and Zoom's answers as `responses` sees them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from zoom_integration.models import ConnectionState, ZoomConnection

TOKEN_URL = "https://zoom.us/oauth/token"
REVOKE_URL = "https://zoom.us/oauth/revoke"
AUTHORIZE_URL = "https://zoom.us/oauth/authorize"
ME_URL = "https://api.zoom.us/v2/users/me"
ALL_SCOPES = ("meeting:read:admin webinar:read:admin user:read:admin group:read:admin "
              "dashboard_meetings:read:admin dashboard_webinars:read:admin "
              "dashboard_home:read:admin")


def token_body(access="access-new-1", refresh="refresh-new-1", expires_in=3599,
               scope=ALL_SCOPES, **extra):
    """The token response shape (docs/zoom.md, "The token endpoint")."""
    return {"access_token": access, "token_type": "bearer", "refresh_token": refresh,
            "expires_in": expires_in, "scope": scope, "api_url": "https://api.zoom.us", **extra}


def me_body(account_id="Aq7Zp1", **extra):
    return {"id": "Uu8Xk2", "account_id": account_id, "email": "admin@cust.example", "type": 2,
            "role_name": "Owner", "status": "active", **extra}


def connect(tenant, *, access="access-old", refresh="refresh-old", expires_in=3000,
            account_id="Aq7Zp1", state=ConnectionState.CONNECTED) -> ZoomConnection:
    """A tenant as it stands after a successful authorization (written directly for tests)."""
    tenant.zoom_account_id = account_id
    tenant.save(update_fields=["zoom_account_id"])
    conn, _ = ZoomConnection.objects.update_or_create(tenant=tenant, defaults={
        "state": state, "access_token": access, "refresh_token": refresh,
        "access_token_expires_at": timezone.now() + timedelta(seconds=expires_in),
        "scopes": ALL_SCOPES})
    return conn


@pytest.fixture
def connected(tenant):
    connect(tenant)
    return tenant
