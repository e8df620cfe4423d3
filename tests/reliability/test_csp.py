"""Every page carries a Content-Security-Policy that forbids inline scripts, and our own pages
need none: scripts come from static files, handlers are attached there (data-* attributes)."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import TenantFactory
from tests.oauth.conftest import connect

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


def _policy(response) -> dict[str, str]:
    header = response.headers.get("Content-Security-Policy", "")
    return {part.split()[0]: part for part in (p.strip() for p in header.split(";")) if part}


@pytest.fixture
def tenant_pages():
    tenant = TenantFactory(slug="acme")
    connect(tenant)
    pk = tenant.pk
    return [
        "/admin/", "/admin/tenants/tenant/", f"/admin/tenants/tenant/{pk}/change/",
        "/admin/tenants/tenant/add/", f"/admin/tenants/tenant/{pk}/history/",
        "/admin/zoom_integration/tenanthealth/",
        reverse("admin:zoom_integration_tenanthealth_checklist", args=[pk]),
        reverse("admin:zoom_integration_tenanthealth_checklist_print", args=[pk]),
        "/admin/zoom_integration/zoommeeting/", "/admin/zoom_integration/zoomwebhookdelivery/",
        "/admin/zoom_integration/tenantdirectory/",
    ]


def test_every_admin_page_has_a_policy_and_no_inline_script(admin_client, tenant_pages):
    for url in tenant_pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        policy = _policy(response)
        assert policy.get("script-src") == "script-src 'self'", (url, policy)
        assert "frame-ancestors 'none'" in policy.values()
        html = response.content.decode()
        assert not INLINE_SCRIPT.search(html), (url, INLINE_SCRIPT.search(html).group(0))
        assert not INLINE_HANDLER.search(html), (url, INLINE_HANDLER.search(html).group(0))


def test_login_and_customer_pages_have_the_policy_too():
    TenantFactory(slug="acme")
    login = Client().get("/admin/login/")
    assert _policy(login).get("script-src") == "script-src 'self'"
    assert not INLINE_SCRIPT.search(login.content.decode())
    error = Client().get("/adminapi/zoom/oauth/authorize?error=access_denied",
                         HTTP_HOST="acme.portal.test")
    assert error.status_code == 403
    assert _policy(error).get("script-src") == "script-src 'self'"


def test_the_tenant_actions_are_object_tools_outside_the_form(admin_client, tenant_pages):
    html = admin_client.get(tenant_pages[2]).content.decode()
    tools = html[html.index('class="object-tools"'):]
    tools = tools[:tools.index("</ul>")]
    for label in ("Test connection", "Sync users and groups now", "Revoke"):
        assert label in tools
    assert "data-confirm=" in tools
    form_body = html[html.index('id="tenant_form"'):]
    assert "zoom-revoke/" not in form_body and "formaction" not in form_body
