import pytest
from django.urls import reverse

from compliance.models import ConsentRecord, Suppression
from smsportal.factories.compliance import (
    ComplaintFactory,
    ConsentRecordFactory,
    PlatformSuppressionFactory,
    SuppressionFactory,
)

A = "+8613800138001"
B = "+8613001300001"

CONSENTS = reverse("api-compliance-consents")
REVOKE = reverse("api-compliance-consent-revoke")
SUPPRESSIONS = reverse("api-compliance-suppressions")
REMOVE = reverse("api-compliance-suppression-remove")
CHECK = reverse("api-compliance-suppression-check")
COMPLAINTS = reverse("api-compliance-complaints")


@pytest.fixture
def api(api_for, member):
    return api_for(member)


def test_record_list_and_revoke_consent(api, member):
    response = api.post(
        CONSENTS, {"number": "13800138001", "purpose": "marketing", "evidence_text": "APP 注册勾选"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["number"] == A and response.json()["source"] == "api"
    assert response.json()["recorded_by"].startswith("api key")
    response = api.post(REVOKE, {"number": A, "purpose": "marketing"}, format="json")
    assert response.status_code == 201 and response.json()["action"] == "revoke"
    listed = api.get(CONSENTS, {"number": "138-0013-8001"}).json()["results"]
    assert [r["action"] for r in listed] == ["revoke", "grant"]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"number": "1380013", "purpose": "marketing", "evidence_text": "x"}, 422, "invalid_number", "number"),
        ({"number": "02161234567", "purpose": "marketing", "evidence_text": "x"}, 422, "invalid_number", "number"),
        ({"number": A, "purpose": "ads", "evidence_text": "x"}, 422, "unknown_purpose", "purpose"),
        ({"number": A, "purpose": "marketing"}, 422, "evidence_required", "evidence_text"),
        ({"purpose": "marketing"}, 400, "invalid", "number"),
        (
            {"number": A, "purpose": "marketing", "evidence_text": "x", "occurred_at": "yesterday"},
            400,
            "invalid",
            "occurred_at",
        ),
    ],
)
def test_consent_bad_input(api, body, status, code, field):
    response = api.post(CONSENTS, body, format="json")
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code and field in error["fields"]


def test_revocation_without_consent_is_409(api):
    response = api.post(REVOKE, {"number": A, "purpose": "marketing"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "no_consent"


def test_invalid_number_filter_is_422(api):
    response = api.get(CONSENTS, {"number": "abc"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_number"


def test_suppression_add_check_list_remove(api, member):
    response = api.post(SUPPRESSIONS, {"numbers": [A, "13001300001", "12"], "scope": "all"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert sorted(body["changed"]) == [B, A] and list(body["errors"]) == ["12"]
    check = api.get(CHECK, {"number": "13800138001"}).json()
    assert check["suppressed"] is True and check["tenant"]["scope"] == "all"
    assert check["blocked"]["verification"] == "suppressed"
    listed = api.get(SUPPRESSIONS).json()["results"]
    assert {r["number"] for r in listed} == {A, B}
    response = api.post(REMOVE, {"numbers": [A]}, format="json")
    assert response.status_code == 200 and response.json()["changed"] == [A]
    check = api.get(CHECK, {"number": A}).json()
    assert check["suppressed"] is False and "verification" not in check["blocked"]
    assert check["blocked"]["marketing"] == "no_consent"


def test_check_reports_platform_list_without_its_details(api):
    PlatformSuppressionFactory(number=A, scope="all", note="12321 工单 8812")
    check = api.get(CHECK, {"number": A}).json()
    assert check["platform"] == {"scope": "all"} and "8812" not in str(check)


def test_check_needs_a_number(api):
    assert api.get(CHECK).status_code == 400


def test_suppression_bad_input(api):
    response = api.post(SUPPRESSIONS, {"numbers": [A], "scope": "everything"}, format="json")
    assert response.status_code == 400 and "scope" in response.json()["error"]["fields"]
    response = api.post(SUPPRESSIONS, {"numbers": []}, format="json")
    assert response.status_code == 400


def test_complaints_list(api, member):
    ComplaintFactory(tenant=member.tenant, number=A)
    results = api.get(COMPLAINTS).json()["results"]
    assert len(results) == 1 and results[0]["number"] == A


def test_outsider_sees_nothing_and_cannot_touch(api_for, member, outsider):
    ConsentRecordFactory(tenant=member.tenant, number=A)
    SuppressionFactory(tenant=member.tenant, number=A, scope="all")
    ComplaintFactory(tenant=member.tenant, number=A)
    theirs = api_for(outsider)
    assert theirs.get(CONSENTS, {"number": A}).json()["results"] == []
    assert theirs.get(SUPPRESSIONS).json()["results"] == []
    assert theirs.get(COMPLAINTS).json()["results"] == []
    assert theirs.get(CHECK, {"number": A}).json()["suppressed"] is False
    response = theirs.post(REVOKE, {"number": A, "purpose": "marketing"}, format="json")
    assert response.status_code == 409  # there is no consent in *their* tenant
    theirs.post(REMOVE, {"numbers": [A]}, format="json")
    assert Suppression.objects.for_tenant(member.tenant).get(number=A).removed_at is None
    assert ConsentRecord.objects.for_tenant(member.tenant).count() == 1


def test_scopes(api_for, member):
    read_only = api_for(member, scopes=("read",))
    assert read_only.get(CONSENTS).status_code == 200
    assert read_only.get(CHECK, {"number": A}).status_code == 200
    for url, body in (
        (CONSENTS, {"number": A, "purpose": "marketing", "evidence_text": "x"}),
        (REVOKE, {"number": A, "purpose": "marketing"}),
        (SUPPRESSIONS, {"numbers": [A]}),
        (REMOVE, {"numbers": [A]}),
    ):
        response = read_only.post(url, body, format="json")
        assert response.status_code == 403 and response.json()["error"]["code"] == "missing_scope", url
    send_only = api_for(member, scopes=("send",))
    assert send_only.get(CONSENTS).status_code == 403


def test_no_key_is_401(client):
    from rest_framework.test import APIClient

    for url in (CONSENTS, SUPPRESSIONS, CHECK, COMPLAINTS):
        assert APIClient().get(url).status_code in (401, 403), url
