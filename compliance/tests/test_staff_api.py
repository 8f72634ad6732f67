"""The platform-staff complaint API: staff session + two-factor only; everyone else 401/404/403."""

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from compliance.gates import marketing_paused
from compliance.models import AuditEvent, Complaint, PlatformComplianceSettings, Suppression
from smsportal.enums import MessageClass, MessageStatus
from smsportal.factories import UserFactory
from smsportal.factories.messaging import MessageFactory

URL = reverse("api-staff-complaints")
A = "+8613800138001"


@pytest.fixture
def staff_api(staff_user):
    api = APIClient()
    api.force_login(staff_user)
    return api


def body(of_tenant, /, **overrides):
    return {
        "tenant": of_tenant.pk,
        "source": "12321",
        "number": "138 0013 8001",
        "text": "12321 转办工单 8812",
    } | overrides


def test_staff_records_a_complaint_for_any_tenant(staff_api, staff_user, tenant, outsider):
    response = staff_api.post(URL, body(tenant), format="json", REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 201, response.content
    answer = response.json()
    assert answer["tenant"] == tenant.pk and answer["number"] == A and answer["source"] == "12321"
    assert answer["status"] == "received" and answer["recorded_by_label"] == staff_user.email
    assert answer["marketing_paused"] is False
    complaint = Complaint.objects.get()
    assert complaint.tenant == tenant and complaint.recorded_by == staff_user
    assert Suppression.objects.for_tenant(tenant).get(number=A).reason == "complaint"
    assert not Suppression.objects.for_tenant(outsider.tenant).exists()
    event = AuditEvent.objects.get(action="complaint.recorded")
    assert event.tenant == tenant and event.actor == staff_user and event.ip_address == "10.1.2.3"
    assert A not in str(event.after)  # masked


def test_the_tenant_is_named_by_id_or_short_name(staff_api, tenant, outsider):
    assert staff_api.post(URL, body(tenant, tenant=tenant.slug), format="json").status_code == 201
    assert staff_api.post(URL, body(outsider.tenant, tenant=str(outsider.tenant.pk)), format="json").status_code == 201
    assert sorted(Complaint.objects.values_list("tenant_id", flat=True)) == sorted([tenant.pk, outsider.tenant.pk])


def test_the_tenant_sees_the_complaint_and_the_outsider_does_not(staff_api, tenant, member, outsider, api_for):
    staff_api.post(URL, body(tenant), format="json")
    assert [c["number"] for c in api_for(member).get(reverse("api-compliance-complaints")).json()["results"]] == [A]
    assert api_for(outsider).get(reverse("api-compliance-complaints")).json()["results"] == []


@pytest.mark.parametrize(
    ("overrides", "status", "code", "field"),
    [
        ({"number": "1380013"}, 422, "invalid_number", "number"),
        ({"number": "02161234567"}, 422, "invalid_number", "number"),
        ({"text": "   "}, 422, "text_required", "text"),
        ({"tenant": "no-such-tenant"}, 422, "unknown_tenant", "tenant"),
        ({"tenant": "999999999"}, 422, "unknown_tenant", "tenant"),
        ({"tenant": "9" * 40}, 422, "unknown_tenant", "tenant"),
        ({"received_at": "2999-01-01T00:00:00+08:00"}, 422, "time_in_future", "received_at"),
        ({"source": "police"}, 400, "invalid", "source"),
        ({"received_at": "yesterday"}, 400, "invalid", "received_at"),
        ({"message_id": "abc"}, 400, "invalid", "message_id"),
        ({"message_id": 0}, 400, "invalid", "message_id"),
        ({"message_id": 10**30}, 400, "invalid", "message_id"),
        ({"number": None}, 400, "invalid", "number"),
    ],
)
def test_bad_input_is_reported_per_field(staff_api, tenant, overrides, status, code, field):
    response = staff_api.post(URL, body(tenant, **overrides), format="json")
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code and field in error["fields"], error
    assert not Complaint.objects.exists() and not Suppression.objects.exists()


def test_missing_fields_are_all_listed(staff_api):
    response = staff_api.post(URL, {}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"tenant", "source", "number", "text"}


def test_malformed_json_is_400_bad_json(staff_api):
    response = staff_api.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_json"


def test_message_must_belong_to_the_named_tenant(staff_api, tenant, outsider):
    theirs = MessageFactory(tenant=outsider.tenant, number=A)
    response = staff_api.post(URL, body(tenant, message_id=theirs.pk), format="json")
    assert response.status_code == 422 and response.json()["error"]["code"] == "unknown_message"
    mine = MessageFactory(tenant=tenant, number=A)
    response = staff_api.post(URL, body(tenant, message_id=mine.pk), format="json")
    assert response.status_code == 201 and response.json()["message_id"] == mine.pk


def test_a_complaint_over_the_threshold_pauses_marketing(staff_api, tenant):
    PlatformComplianceSettings.objects.update_or_create(
        pk=1, defaults={"complaint_rate_threshold": 100, "complaint_rate_min_delivered": 10}
    )
    MessageFactory.create_batch(
        10, tenant=tenant, message_class=MessageClass.MARKETING, status=MessageStatus.DELIVERED, done_at=timezone.now()
    )
    response = staff_api.post(URL, body(tenant), format="json")
    assert response.status_code == 201 and response.json()["marketing_paused"] is True
    assert marketing_paused(tenant=tenant)


# --- who may call it --------------------------------------------------------------------


def test_no_session_is_401(tenant):
    response = APIClient().post(URL, body(tenant), format="json")
    assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"
    assert not Complaint.objects.exists()


def test_a_tenant_members_session_gets_404(tenant, member):
    api = APIClient()
    api.force_login(member.user)
    response = api.post(URL, body(tenant), format="json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert not Complaint.objects.exists()


def test_a_tenant_api_key_gets_404(tenant, member, api_for):
    response = api_for(member).post(URL, body(tenant), format="json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert not Complaint.objects.exists()


def test_staff_without_two_factor_gets_403_mfa_required(tenant):
    api = APIClient()
    api.force_login(UserFactory(is_staff=True))
    response = api.post(URL, body(tenant), format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "mfa_required"
    assert not Complaint.objects.exists()


def test_an_inactive_staff_member_is_refused(tenant, staff_user):
    api = APIClient()
    api.force_login(staff_user)
    staff_user.is_active = False
    staff_user.save()
    assert api.post(URL, body(tenant), format="json").status_code in (401, 404)
    assert not Complaint.objects.exists()


def test_writes_need_the_csrf_token(tenant, staff_user):
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(staff_user)
    response = api.post(URL, body(tenant), format="json")
    assert response.status_code == 403 and not Complaint.objects.exists()
    api.get(reverse("compliance_staff:complaint_new"))  # a portal form sets the csrftoken cookie
    token = api.cookies["csrftoken"].value
    response = api.post(URL, body(tenant), format="json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201, response.content


def test_only_post(staff_api):
    assert staff_api.get(URL).status_code == 405
