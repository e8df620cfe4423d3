"""Zoom's labels beside the portal's classification: the meeting pages and the agreement report."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from tests.factories import TenantFactory
from zoom_integration.agreement import label_agreement, zoom_label_of
from zoom_integration.models import ZoomMeeting
from zoom_integration.models.metrics import FetchStatus

pytestmark = pytest.mark.django_db


def meeting(tenant, uuid, quality, audio="", video="", share=""):
    return ZoomMeeting.objects.create(
        tenant=tenant, uuid=uuid, quality=quality, zoom_audio_quality=audio,
        zoom_video_quality=video, zoom_screen_share_quality=share,
        fetch_status=FetchStatus.DONE)


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("root", "root@x.example", "pw")
    client.force_login(user)
    return client


def test_worst_label_and_unknown_labels():
    assert zoom_label_of({"audio": "good", "video": "poor", "screen_share": ""}, "worst") == "poor"
    assert zoom_label_of({"audio": "fair", "video": "great"}, "worst") == "fair"
    assert zoom_label_of({"audio": "great"}, "worst") == "other"
    assert zoom_label_of({"audio": "great"}, "audio") == "other"
    assert zoom_label_of({"audio": "", "video": ""}, "worst") == ""


def test_confusion_table_counts_agreement(tenant):
    meeting(tenant, "1", "good", audio="good")
    meeting(tenant, "2", "good", audio="fair")
    meeting(tenant, "3", "poor", audio="bad")
    meeting(tenant, "4", "good", audio="poor")  # disagree: Zoom poor, portal Good
    meeting(tenant, "5", "unclassified", audio="good")  # shown, not compared
    meeting(tenant, "6", "poor", audio="whatever")  # unknown label: "other"
    meeting(tenant, "7", "good")  # no Zoom label: not in the table
    (table,) = label_agreement(meetings=ZoomMeeting.objects.all(), stream="audio")
    assert table.cells["good"] == {"good": 1, "poor": 0, "unclassified": 1}
    assert table.cells["poor"]["good"] == 1 and table.cells["other"]["poor"] == 1
    assert (table.agreeing, table.compared) == (3, 4)
    assert table.agreement == 0.75


def test_agreement_page_per_tenant(tenant, staff):
    other = TenantFactory(name="Zeta")
    meeting(tenant, "1", "good", audio="good", video="good")
    meeting(tenant, "2", "poor", audio="good", video="bad")
    meeting(other, "3", "poor", audio="good")
    url = reverse("admin:zoom_integration_zoomaccountoverview_agreement")
    html = staff.get(url).content.decode()
    assert f'id="confusion-{tenant.pk}"' in html and f'id="confusion-{other.pk}"' in html
    assert "Agree on 2 of 2 meetings (100%)" in html  # worst of the labels by default
    assert "Agree on 0 of 1 meetings (0%)" in html
    html = staff.get(url + "?stream=audio&tenant=" + str(tenant.pk)).content.decode()
    assert "Agree on 1 of 2 meetings (50%)" in html and "Zeta" not in html
    assert staff.get(url + "?stream=<script>&tenant=x").status_code == 200


def test_agreement_page_needs_the_meeting_permission(client, tenant):
    user = get_user_model().objects.create_user("staff", "s@x.example", "pw", is_staff=True)
    client.force_login(user)
    url = reverse("admin:zoom_integration_zoomaccountoverview_agreement")
    assert client.get(url).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_zoommeeting"))
    meeting(tenant, "1", "good", audio="good")
    html = client.get(url).content.decode()
    assert 'id="agreement-empty"' in html  # no tenant granted: nothing shown


def test_meeting_list_and_page_show_zoom_labels_beside_ours(tenant, staff):
    found = meeting(tenant, "m1", "poor", audio="poor", video="good", share="fair")
    ZoomMeeting.objects.filter(pk=found.pk).update(reconciled_at=timezone.now())
    html = staff.get(reverse("admin:zoom_integration_zoommeeting_changelist")).content.decode()
    assert "poor / good / fair" in html and 'id="label-agreement"' in html
    html = staff.get(reverse("admin:zoom_integration_zoommeeting_change",
                             args=[found.pk])).content.decode()
    assert "audio poor, video good, screen share fair" in html
    assert "Found by the reconcile" in html
