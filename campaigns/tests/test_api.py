import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from campaigns import fanout, services
from campaigns.models import Campaign, ContactImport, ContactList
from smsportal.factories.campaigns import (
    ContactListFactory,
    add_contacts,
    grant_consent,
    marketing_template,
    sample_numbers,
)


@pytest.fixture
def api(api_for, member):
    return api_for(member)


@pytest.fixture
def ready(member):
    template = marketing_template(member.tenant)
    contact_list = ContactListFactory(tenant=member.tenant, name="会员")
    numbers = sample_numbers(5)
    add_contacts(contact_list, [(n, {"name": "张三", "points": "5"}) for n in numbers])
    grant_consent(member.tenant, numbers)
    return template, contact_list


def campaign_body(template, contact_list, **extra):
    body = {
        "name": "双11",
        "template_id": template.pk,
        "list_ids": [contact_list.pk],
        "link_variable": "link",
        "link_url": "https://hm.example.cn/d11",
        "respect_quiet_hours": False,
        "audience_filter": {"carriers": ["mobile", "unicom", "telecom"], "consent": "granted"},
    }
    body.update(extra)
    return body


def test_list_create_upload_and_status(api, member):
    created = api.post("/api/v1/contact-lists", {"name": "门店会员"}, format="json")
    assert created.status_code == 201
    list_id = created.json()["id"]
    assert api.post("/api/v1/contact-lists", {"name": "门店会员"}, format="json").status_code == 409
    upload = SimpleUploadedFile("m.csv", "手机号,name\n13800138000,A\n13900139000,B\n".encode("gbk"))
    response = api.post(f"/api/v1/contact-lists/{list_id}/imports", {"file": upload}, format="multipart")
    assert response.status_code == 202, response.json()
    import_id = response.json()["id"]
    assert response.json()["status"] == "pending"
    services.contact_import_run(contact_import_id=import_id)  # what the bulk worker does
    status = api.get(f"/api/v1/contact-imports/{import_id}").json()
    assert (status["status"], status["imported"], status["encoding"]) == ("done", 2, "gbk")
    bad = SimpleUploadedFile("m.csv", "名字\n张三\n".encode())
    refused = api.post(f"/api/v1/contact-lists/{list_id}/imports", {"file": bad}, format="multipart")
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "number_column_missing"


def test_campaign_lifecycle_over_the_api(api, ready):
    template, contact_list = ready
    created = api.post("/api/v1/campaigns", campaign_body(template, contact_list), format="json")
    assert created.status_code == 201, created.json()
    campaign_id = created.json()["id"]
    assert api.post(f"/api/v1/campaigns/{campaign_id}/start").json()["error"]["code"] == "not_reviewed"
    reviewed = api.post(f"/api/v1/campaigns/{campaign_id}/review").json()
    assert reviewed["review"]["messages"] == 5
    assert api.post(f"/api/v1/campaigns/{campaign_id}/start").json()["status"] == "running"
    fanout.campaign_fanout_run(campaign_id=campaign_id)
    assert api.post(f"/api/v1/campaigns/{campaign_id}/pause").json()["status"] == "paused"
    assert api.post(f"/api/v1/campaigns/{campaign_id}/pause").status_code == 409
    assert api.post(f"/api/v1/campaigns/{campaign_id}/resume").json()["status"] == "running"
    stats = api.get(f"/api/v1/campaigns/{campaign_id}/stats").json()
    assert (stats["queued"], stats["messages"]) == (5, 5)
    assert api.post(f"/api/v1/campaigns/{campaign_id}/cancel").json()["status"] == "cancelled"
    assert api.get(f"/api/v1/campaigns/{campaign_id}/stats").json()["queued"] == 0


def test_schedule_in_the_past_and_unapproved_template_are_refused(api, ready, member):
    template, contact_list = ready
    past = (timezone.now() - dt.timedelta(hours=1)).isoformat()
    response = api.post("/api/v1/campaigns", campaign_body(template, contact_list, send_at=past), format="json")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "schedule_in_past"
    from smsportal.factories.templates import MessageTemplateFactory

    draft = MessageTemplateFactory(tenant=member.tenant, kind="marketing")
    response = api.post("/api/v1/campaigns", campaign_body(draft, contact_list), format="json")
    assert response.json()["error"]["code"] == "template_not_approved"
    assert not Campaign.objects.exists()
    created = api.post("/api/v1/campaigns", campaign_body(template, contact_list), format="json").json()
    api.post(f"/api/v1/campaigns/{created['id']}/review")
    later = (timezone.now() + dt.timedelta(days=1)).isoformat()
    scheduled = api.post(f"/api/v1/campaigns/{created['id']}/schedule", {"send_at": later}, format="json")
    assert scheduled.json()["status"] == "scheduled"


def test_outsider_key_gets_404(api_for, outsider, ready, member):
    template, contact_list = ready
    campaign = services.campaign_save(
        tenant=member.tenant,
        actor=member.user,
        name="x",
        template_id=template.pk,
        list_ids=[contact_list.pk],
        link_variable="link",
        link_url="https://hm.example.cn",
    )
    imp = ContactImport.objects.create(
        tenant=member.tenant, contact_list=contact_list, original_name="a.csv", file_format="csv"
    )
    other = api_for(outsider)
    assert other.get(f"/api/v1/campaigns/{campaign.pk}").status_code == 404
    assert other.get(f"/api/v1/campaigns/{campaign.pk}/stats").status_code == 404
    assert other.get(f"/api/v1/contact-imports/{imp.pk}").status_code == 404
    for action in ("review", "start", "pause", "resume", "cancel"):
        assert other.post(f"/api/v1/campaigns/{campaign.pk}/{action}").status_code == 404
    assert other.post(f"/api/v1/campaigns/{campaign.pk}/schedule", {"send_at": None}, format="json").status_code == 404
    upload = SimpleUploadedFile("m.csv", b"phone\n13800138000\n")
    assert other.post(f"/api/v1/contact-lists/{contact_list.pk}/imports", {"file": upload}).status_code == 404
    assert other.get("/api/v1/campaigns").json()["results"] == []
    assert other.get("/api/v1/contact-lists").json()["results"] == []
    # someone else's list id in a campaign is refused, not used
    mine = marketing_template(outsider.tenant)
    response = other.post("/api/v1/campaigns", campaign_body(mine, contact_list), format="json")
    assert response.status_code == 422
    assert ContactList.objects.filter(tenant=outsider.tenant).count() == 0


def test_read_only_key_cannot_change_anything(api_for, member, ready):
    reader = api_for(member, scopes=("read",))
    assert reader.get("/api/v1/campaigns").status_code == 200
    assert reader.post("/api/v1/contact-lists", {"name": "x"}, format="json").status_code == 403
