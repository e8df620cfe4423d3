"""Every admin changelist's filter headings read as words: "By active", never "By is active".

Django titles a field's filter with the field's verbose_name, which defaults to the field name
with spaces ("is active", "has ...", "can change"), and the sidebar shows it as "By <title>". Each
registered admin's changelist is rendered (as a superuser, who sees every filter) and its
headings checked, so a new admin or field is covered without editing this file.
"""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from tests.factories import MeetingFactory, ParticipantFactory, TenantFactory, ZoomUserFactory

pytestmark = pytest.mark.django_db

ADMINS = sorted(admin.site._registry.items(), key=lambda pair: pair[0]._meta.label)
# "By is active", "By has data", "By can change", and a raw field name such as "By zoom_plan".
AWKWARD = re.compile(r"^(is|has|can)\b|_")
HEADING = re.compile(r"<summary>\s*By (.*?)\s*</summary>", re.S)


def _headings(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", h) for h in HEADING.findall(html)]


@pytest.fixture
def some_data():
    """Rows for the filters that show only when there is something to choose between."""
    tenant = TenantFactory(name="Acme")
    TenantFactory(name="Inactive", is_active=False)
    ParticipantFactory(meeting=MeetingFactory(tenant=tenant))


@pytest.mark.parametrize(("model", "model_admin"), ADMINS,
                         ids=[model._meta.label for model, _ in ADMINS])
def test_no_filter_heading_reads_by_is_or_by_has(admin_client, some_data, model, model_admin):
    response = admin_client.get(
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
    if response.status_code != 200 or response.context is None:
        pytest.skip(f"no changelist for {model._meta.label} ({response.status_code})")
    changelist = response.context.get("cl")
    if changelist is None:
        pytest.skip(f"{model._meta.label} has its own list page")
    titles = [str(spec.title) for spec in changelist.filter_specs]
    headings = _headings(response.content.decode())
    # The page shows every filter that has something to offer, under its title.
    assert set(headings) <= set(titles)
    for title in titles:
        assert not AWKWARD.search(title), f"{model._meta.label}: filter heading 'By {title}'"


def test_the_check_sees_the_headings(admin_client, some_data):
    # The tenant list filters on its activity flag: the heading the check above reads.
    html = admin_client.get(reverse("admin:tenants_tenant_changelist")).content.decode()
    assert "active" in _headings(html)
    assert AWKWARD.search("is active") and AWKWARD.search("has data")
    assert AWKWARD.search("can change") and not AWKWARD.search("change access")
    assert AWKWARD.search("zoom_plan") and not AWKWARD.search("Zoom plan")


def test_deleted_in_zoom_reads_yes_and_no_and_filters(admin_client):
    tenant = TenantFactory()
    gone = ZoomUserFactory(tenant=tenant, email="gone@acme.test", deleted_at=timezone.now())
    here = ZoomUserFactory(tenant=tenant, email="here@acme.test")
    url = reverse("admin:zoom_integration_zoomuser_changelist")
    html = admin_client.get(url).content.decode()
    assert "deleted in Zoom" in _headings(html)
    block = html.split('data-filter-title="deleted in Zoom"')[1].split("</details>")[0]
    assert re.findall(r'<a href="[^"]*">(.*?)</a>', block) == ["All", "Yes", "No"]
    faceted = admin_client.get(url, {"_facets": "1"}).content.decode()
    block = faceted.split('data-filter-title="deleted in Zoom"')[1].split("</details>")[0]
    assert re.findall(r'<a href="[^"]*">(.*?)</a>', block) == ["All", "Yes (1)", "No (1)"]

    def listed(value):
        response = admin_client.get(url, {"deleted_at__isempty": value})
        return {user.pk for user in response.context["cl"].result_list}

    assert listed("0") == {gone.pk}  # Yes: deleted
    assert listed("1") == {here.pk}
