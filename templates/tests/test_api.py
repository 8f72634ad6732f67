"""The templates API: CRUD, submit, findings, check, segments; scopes; outsiders get 404."""

from __future__ import annotations

import pytest

from smsportal.factories.templates import (
    MessageTemplateFactory,
    SignatureFactory,
    TemplateVersionFactory,
    approved_template,
)
from templates.models import MessageTemplate, Signature, TemplateVersion
from templates.tests.conftest import fake_pdf, pdf_file

pytestmark = pytest.mark.django_db

BASE = "/api/v1/"
CODE_VARS = [{"name": "code", "type": "code", "max_length": 6, "example": "385721"}]


@pytest.fixture
def api(api_for, member):
    return api_for(member)


@pytest.fixture
def draft(tenant, signature):
    template = MessageTemplateFactory(tenant=tenant, signature=signature, name="登录验证码")
    TemplateVersionFactory(template=template, number=1)
    return template


def test_signature_crud(api, tenant):
    response = api.post(
        BASE + "signatures",
        {"name": "华美App", "kind": "app", "proofs": [pdf_file(), pdf_file("b.pdf")]},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "pending_review" and len(body["documents"]) == 2
    assert api.get(BASE + "signatures").json()[0]["name"] == "华美App"
    assert api.get(BASE + f"signatures/{body['id']}").status_code == 200
    assert api.delete(BASE + f"signatures/{body['id']}").status_code == 204
    assert not Signature.objects.filter(tenant=tenant).exists()


@pytest.mark.parametrize(
    ("data", "code", "status"),
    [
        ({"name": "【华美】", "kind": "app"}, "signature_brackets", 400),
        ({"name": "客服通知", "kind": "app"}, "vague_signature", 400),
        ({"name": "华美App", "kind": "nope"}, "invalid", 400),
        ({"name": "华美App", "kind": "app", "proofs": [fake_pdf()]}, "file_type", 400),
        ({"name": "华美App", "kind": "app", "proofs": [pdf_file(pad=6 * 1024 * 1024)]}, "file_too_large", 400),
    ],
)
def test_signature_bad_input(api, tenant, data, code, status):
    response = api.post(BASE + "signatures", data, format="multipart")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert not Signature.objects.filter(tenant=tenant).exists()


def test_template_lifecycle_over_api(api, tenant, signature, staff_user):
    response = api.post(
        BASE + "templates",
        {
            "name": "登录码",
            "kind": "verification",
            "signature_id": signature.pk,
            "body": "您的验证码为${code}。",
            "variables": CODE_VARS,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    template_id = response.json()["id"]
    response = api.post(BASE + f"templates/{template_id}/submit")
    assert response.status_code == 200
    assert response.json()["returned"] is True
    assert "verification.purpose" in [f["rule"] for f in response.json()["version"]["findings"]]
    findings = api.get(BASE + f"templates/{template_id}/findings").json()
    assert findings["blocked"] is True
    fix = next(f for f in findings["findings"] if f["rule"] == "verification.purpose")["fix"]
    assert api.patch(BASE + f"templates/{template_id}", {"body": fix["body"]}, format="json").status_code == 200
    response = api.post(BASE + f"templates/{template_id}/submit")
    assert response.json()["status"] == "pending_review"
    # under review: editing is refused, nothing changes
    response = api.patch(BASE + f"templates/{template_id}", {"body": "别的${code}"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "version_under_review"
    assert api.post(BASE + f"templates/{template_id}/withdraw").json()["status"] == "draft"
    detail = api.get(BASE + f"templates/{template_id}").json()
    assert detail["latest_version"]["status"] == "draft" and detail["approved_version"] is None
    assert len(api.get(BASE + f"templates/{template_id}/versions").json()) == 1


def test_editing_an_approved_version_is_refused(api, tenant, signature):
    template = approved_template(tenant=tenant, signature=signature)
    response = api.patch(BASE + f"templates/{template.pk}/versions/1", {"body": "新${code}"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "version_immutable"
    assert TemplateVersion.objects.get(template=template, number=1).body.startswith("您的验证码为")
    # PATCH on the template makes a new draft instead; the approved one stays in force
    response = api.patch(
        BASE + f"templates/{template.pk}", {"body": "您的验证码为${code}，10分钟内有效。"}, format="json"
    )
    assert response.json()["number"] == 2
    detail = api.get(BASE + f"templates/{template.pk}").json()
    assert detail["approved_version"]["number"] == 1
    # a draft version can be patched in place
    response = api.patch(
        BASE + f"templates/{template.pk}/versions/2", {"body": "您的验证码为${code}，3分钟内有效。"}, format="json"
    )
    assert response.status_code == 200 and response.json()["number"] == 2


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"name": "x", "kind": "verification", "body": "验证码${code}"}, "invalid"),  # no signature_id
        ({"name": "x", "kind": "spam", "signature_id": 0, "body": "a"}, "invalid"),
        ({"name": "x", "kind": "alert", "signature_id": 999999, "body": "a"}, "signature_not_found"),
        ({"name": "x", "kind": "alert", "signature_id": None, "body": "a", "variables": "code"}, "invalid"),
        (
            {
                "name": "x",
                "kind": "alert",
                "body": "a",
                "variables": [{"name": "n", "type": "number", "max_length": "lots"}],
            },
            "invalid",
        ),
    ],
)
def test_template_create_bad_input(api, tenant, signature, payload, code):
    payload = (
        {"signature_id": signature.pk, **payload} if "signature_id" not in payload and code != "invalid" else payload
    )
    response = api.post(BASE + "templates", payload, format="json")
    assert response.status_code in (400, 404)
    assert response.json()["error"]["code"] == code
    assert not MessageTemplate.objects.filter(tenant=tenant).exists()


def test_check_endpoint_does_not_save(api, tenant, signature):
    response = api.post(
        BASE + "templates/check",
        {"kind": "marketing", "body": "本周六全场满200减30", "signature_id": signature.pk},
        format="json",
    )
    assert response.status_code == 200
    rules = [f["rule"] for f in response.json()["findings"]]
    assert "marketing.unsubscribe" in rules and "marketing.salutation" in rules
    assert response.json()["blocked"] is True
    assert not MessageTemplate.objects.filter(tenant=tenant).exists()
    clean = api.post(
        BASE + "templates/check", {"kind": "alert", "body": "服务器CPU超过90%，请尽快处理。"}, format="json"
    )
    assert clean.json() == {"blocked": False, "findings": []}


def test_segments_endpoint(api, signature):
    response = api.post(BASE + "templates/segments", {"text": "a" * 160}, format="json")
    assert response.json()["encoding"] == "GSM-7" and response.json()["segments"] == 1
    response = api.post(BASE + "templates/segments", {"text": "a" * 64, "signature_id": signature.pk}, format="json")
    data = response.json()
    assert data["text"].startswith("【华美零售】")
    assert (data["encoding"], data["characters"], data["segments"]) == ("UCS-2", 70, 1)
    assert data["unit_price"] == "0.1300" and data["price"] == "0.1300"
    response = api.post(BASE + "templates/segments", {"text": "😀" * 36}, format="json")
    assert response.json()["characters"] == 72 and response.json()["segments"] == 2
    assert api.post(BASE + "templates/segments", {}, format="json").status_code == 400


def test_scopes(api_for, member, draft):
    reader = api_for(member, scopes=("read",))
    assert reader.get(BASE + "templates").status_code == 200
    assert reader.post(BASE + "templates/check", {"kind": "alert", "body": "告警"}, format="json").status_code == 200
    response = reader.post(BASE + f"templates/{draft.pk}/submit")
    assert response.status_code == 403
    assert reader.patch(BASE + f"templates/{draft.pk}", {"body": "x"}, format="json").status_code == 403
    sender = api_for(member, scopes=("send",))
    assert sender.get(BASE + "templates").status_code == 403
    assert TemplateVersion.objects.get(template=draft).status == "draft"


def test_no_key_is_401(client, draft):
    from rest_framework.test import APIClient

    assert APIClient().get(BASE + "templates").status_code in (401, 403)


def test_outsider_gets_404_everywhere(api_for, outsider, tenant, draft, signature):
    foreign = api_for(outsider)
    template_id, signature_id = draft.pk, signature.pk
    calls = [
        ("get", f"signatures/{signature_id}", None),
        ("delete", f"signatures/{signature_id}", None),
        ("post", f"signatures/{signature_id}/resubmit", None),
        ("get", f"templates/{template_id}", None),
        ("patch", f"templates/{template_id}", {"body": "x"}),
        ("delete", f"templates/{template_id}", None),
        ("get", f"templates/{template_id}/versions", None),
        ("get", f"templates/{template_id}/versions/1", None),
        ("patch", f"templates/{template_id}/versions/1", {"body": "x"}),
        ("post", f"templates/{template_id}/submit", None),
        ("post", f"templates/{template_id}/withdraw", None),
        ("get", f"templates/{template_id}/findings", None),
        ("post", "templates/segments", {"text": "a", "signature_id": signature_id}),
        ("post", "templates/check", {"kind": "alert", "body": "a", "signature_id": signature_id}),
    ]
    for method, path, data in calls:
        response = getattr(foreign, method)(BASE + path, data, format="json")
        assert response.status_code == 404, (method, path, response.status_code)
    assert foreign.get(BASE + "templates").json() == []
    assert foreign.get(BASE + "signatures").json() == []
    assert TemplateVersion.objects.get(template=draft).status == "draft"
    assert Signature.objects.filter(pk=signature_id).exists()


def test_list_filter_by_kind(api, tenant, signature):
    approved_template(tenant=tenant, signature=signature, kind="alert", body="机房告警。", variables=[])
    approved_template(tenant=tenant, signature=signature)
    assert [t["kind"] for t in api.get(BASE + "templates?kind=alert").json()] == ["alert"]


def test_delete_approved_template_is_conflict(api, tenant, signature):
    template = approved_template(tenant=tenant, signature=signature)
    response = api.delete(BASE + f"templates/{template.pk}")
    assert response.status_code == 409 and response.json()["error"]["code"] == "template_in_use"
    other = SignatureFactory(tenant=tenant)
    assert api.delete(BASE + f"signatures/{other.pk}").status_code == 204


def test_signature_resubmit_over_api(api, tenant, staff_user):
    from templates import services
    from templates.models import ReviewCase

    created = api.post(
        BASE + "signatures", {"name": "华美App", "kind": "app", "proofs": [pdf_file()]}, format="multipart"
    ).json()
    case = ReviewCase.objects.get(signature_id=created["id"])
    response = api.post(BASE + f"signatures/{created['id']}/resubmit", {}, format="multipart")
    assert response.status_code == 409 and response.json()["error"]["code"] == "signature_not_rejected"
    services.review_reject(actor=staff_user, case_id=case.pk, reason_code="documents_missing")
    response = api.post(
        BASE + f"signatures/{created['id']}/resubmit", {"proofs": [pdf_file("new.pdf")]}, format="multipart"
    )
    assert response.status_code == 200 and response.json()["status"] == "pending_review"
    assert len(response.json()["documents"]) == 2
