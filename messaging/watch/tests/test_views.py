import pytest
from django.urls import reverse
from django.utils import timezone

from compliance.models import AuditEvent
from messaging.models import ChannelMinute, ReceiptRaw
from messaging.watch.models import Incident, ProviderCodeMapping
from messaging.watch.services import watch_run
from smsportal.factories.messaging import ChannelFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def http_channel(db):
    return ChannelFactory(name="http-provider", adapter="http", settings={"url": "http://127.0.0.1:9/x"})


def test_health_page_shows_channels_breaker_queues_and_sparklines(staff_client, http_channel):
    busy = ChannelFactory(name="联通-备用", breaker_state="open")
    smpp = ChannelFactory(name="smpp-直连", adapter="smpp", settings={"host": "127.0.0.1", "port": 2775})
    now = timezone.now()
    ChannelMinute.objects.create(channel=busy, minute=now.replace(second=0, microsecond=0), delivered=99, failed=1)
    watch_run(now=now)
    watch_run(now=now + timezone.timedelta(minutes=1))
    page = staff_client.get(reverse("messaging_staff:health"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "联通-备用" in html and "http-provider" in html
    assert "<svg" in html  # sparklines, server-rendered
    assert reverse("messaging_staff:channel_codes", args=[http_channel.pk]) in html
    assert reverse("messaging_staff:channel_codes", args=[smpp.pk]) in html  # receipt codes map for SMPP too
    assert reverse("messaging_staff:channel_codes", args=[busy.pk]) not in html  # the simulator's codes are ours
    partial = staff_client.get(reverse("messaging_staff:health"), HTTP_HX_REQUEST="true")
    assert partial.status_code == 200 and "<html" not in partial.content.decode()


def test_run_now_opens_incidents(staff_client):
    ChannelFactory(breaker_state="open")
    response = staff_client.post(reverse("messaging_staff:health_run"))
    assert response.status_code == 302 and Incident.objects.filter(kind="breaker_open").count() == 1


def test_incident_page_acknowledge_and_resolve(staff_client, staff_user):
    ChannelFactory(name="电信-主", breaker_state="open")
    [incident] = watch_run().opened
    page = staff_client.get(reverse("messaging_staff:incidents"))
    assert page.status_code == 200 and "电信-主" in page.content.decode()

    staff_client.post(reverse("messaging_staff:incident_acknowledge", args=[incident.id]))
    incident.refresh_from_db()
    assert incident.acknowledged_by == staff_user and incident.acknowledged_at
    staff_client.post(reverse("messaging_staff:incident_resolve", args=[incident.id]), {"note": "切换到备用通道"})
    incident.refresh_from_db()
    assert incident.resolved_by == staff_user and incident.details["resolution_note"] == "切换到备用通道"
    assert AuditEvent.objects.filter(action="incident.resolved").exists()
    assert (
        reverse("messaging_staff:incident_resolve", args=[incident.id])
        not in staff_client.get(reverse("messaging_staff:incidents")).content.decode()
    )
    assert "电信-主" in staff_client.get(reverse("messaging_staff:incidents"), {"status": "all"}).content.decode()


def test_unknown_incident_is_404(staff_client):
    assert staff_client.post(reverse("messaging_staff:incident_acknowledge", args=[999999])).status_code == 404
    assert staff_client.post(reverse("messaging_staff:incident_resolve", args=[999999])).status_code == 404


def test_code_mapping_add_change_remove_and_unmapped_codes(staff_client, http_channel):
    ReceiptRaw.objects.create(
        channel=http_channel, message_id=1, delivered=False, raw_status="ZZ:42", failure_reason="unknown"
    )
    url = reverse("messaging_staff:channel_codes", args=[http_channel.pk])
    page = staff_client.get(url).content.decode()
    assert "ZZ:42" in page and "DELIVRD" in page  # unmapped code offered, defaults listed

    response = staff_client.post(
        url, {"scope": "receipt", "code": "ZZ:42", "outcome": "failed", "failure_reason": "vacant_number"}
    )
    assert response.status_code == 302
    mapping = ProviderCodeMapping.objects.get(channel=http_channel, code="ZZ:42")
    assert mapping.failure_reason == "vacant_number"
    staff_client.post(url, {"scope": "receipt", "code": "ZZ:42", "outcome": "failed", "failure_reason": "unreachable"})
    assert ProviderCodeMapping.objects.get(pk=mapping.pk).failure_reason == "unreachable"
    assert AuditEvent.objects.filter(action="channel.code_mapped").count() == 2

    delete = reverse("messaging_staff:channel_code_delete", args=[http_channel.pk, mapping.pk])
    assert staff_client.post(delete).status_code == 302
    assert not ProviderCodeMapping.objects.exists()


def test_code_mapping_bad_input_is_a_form_error(staff_client, http_channel):
    url = reverse("messaging_staff:channel_codes", args=[http_channel.pk])
    response = staff_client.post(url, {"scope": "receipt", "code": "X1", "outcome": "failed", "failure_reason": ""})
    assert response.status_code == 200 and "failure_reason" in response.context["form"].errors
    response = staff_client.post(url, {"scope": "nowhere", "code": "", "outcome": "maybe"})
    assert response.status_code == 200 and response.context["form"].errors.keys() >= {"scope", "code", "outcome"}
    assert not ProviderCodeMapping.objects.exists()


def test_mapping_of_another_channel_cannot_be_deleted_through_this_one(staff_client, http_channel):
    other = ChannelFactory(adapter="http")
    mapping = ProviderCodeMapping.objects.create(channel=other, scope="receipt", code="A", outcome="accepted")
    delete = reverse("messaging_staff:channel_code_delete", args=[http_channel.pk, mapping.pk])
    assert staff_client.post(delete).status_code == 404
    assert ProviderCodeMapping.objects.filter(pk=mapping.pk).exists()


def _all_pages(channel_id, incident_id, mapping_id):
    return [
        ("get", reverse("messaging_staff:health")),
        ("post", reverse("messaging_staff:health_run")),
        ("get", reverse("messaging_staff:incidents")),
        ("post", reverse("messaging_staff:incident_acknowledge", args=[incident_id])),
        ("post", reverse("messaging_staff:incident_resolve", args=[incident_id])),
        ("get", reverse("messaging_staff:channel_codes", args=[channel_id])),
        ("post", reverse("messaging_staff:channel_codes", args=[channel_id])),
        ("post", reverse("messaging_staff:channel_code_delete", args=[channel_id, mapping_id])),
    ]


def test_tenant_members_get_404_on_every_watch_page(member_client, outsider_client, http_channel):
    ChannelFactory(breaker_state="open")
    [incident] = watch_run(notify=False).opened
    mapping = ProviderCodeMapping.objects.create(channel=http_channel, scope="receipt", code="A", outcome="accepted")
    for client in (member_client, outsider_client):
        for method, url in _all_pages(http_channel.pk, incident.pk, mapping.pk):
            assert getattr(client, method)(url).status_code == 404, url
    incident.refresh_from_db()
    assert incident.acknowledged_at is None and incident.resolved_at is None
    assert ProviderCodeMapping.objects.filter(pk=mapping.pk).exists()


def test_anonymous_is_sent_to_login(client):
    assert client.get(reverse("messaging_staff:health")).status_code == 302
