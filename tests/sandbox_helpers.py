"""Helpers for tests that connect a tenant over the Zoom sandbox's real OAuth."""

from datetime import timedelta

import requests
from django.utils import timezone

REDIRECT = "https://acme.portal.test/adminapi/zoom/oauth/authorize"


def sandbox_connect(zoom, tenant, **app_fields) -> tuple[dict, dict]:
    """Registers an app in the sandbox (`app_fields` as `register_app` takes them, such as
    `scope_kind`), authorizes it over the sandbox's OAuth and stores on `tenant` what the portal
    would: the tokens with the granted scopes, the app's credentials and account, the business
    plan. Returns (app, token answer)."""
    from zoom_integration.models import ConnectionState, ZoomConnection

    app = zoom.register_app(redirect_uri=REDIRECT, **app_fields)
    code = zoom.authorization_code(app["client_id"], REDIRECT)
    answer = requests.post(f"{zoom.base_url}/oauth/token", timeout=10,
                           auth=(app["client_id"], app["client_secret"]),
                           data={"grant_type": "authorization_code", "code": code,
                                 "redirect_uri": REDIRECT}).json()
    ZoomConnection.objects.create(
        tenant=tenant, state=ConnectionState.CONNECTED, access_token=answer["access_token"],
        refresh_token=answer["refresh_token"], scopes=answer.get("scope", ""),
        access_token_expires_at=timezone.now() + timedelta(seconds=answer["expires_in"]))
    tenant.zoom_account_id = app["account_id"]
    tenant.zoom_plan = "business"
    tenant.client_id, tenant.client_secret = app["client_id"], app["client_secret"]
    tenant.save()
    return app, answer
