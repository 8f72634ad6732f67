import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from campaigns import services
from campaigns.models import Campaign, ContactImport
from smsportal.factories import MembershipFactory
from smsportal.factories.campaigns import (
    ContactListFactory,
    add_contacts,
    grant_consent,
    marketing_template,
    sample_numbers,
)
from tenants.models import Role


@pytest.fixture
def world(member):
    tenant = member.tenant
    template = marketing_template(tenant)
    contact_list = ContactListFactory(tenant=tenant, name="会员")
    numbers = sample_numbers(6)
    add_contacts(contact_list, [(n, {"name": "张三", "points": "10"}) for n in numbers])
    grant_consent(tenant, numbers)
    campaign = services.campaign_save(
        tenant=tenant,
        actor=member.user,
        name="双11",
        template_id=template.pk,
        list_ids=[contact_list.pk],
        link_variable="link",
        link_url="https://hm.example.cn/d11",
        respect_quiet_hours=False,
    )
    services.campaign_review(tenant=tenant, actor=member.user, campaign=campaign)
    started = services.contact_import_start(
        tenant=tenant,
        actor=member.user,
        upload=SimpleUploadedFile("a.csv", "手机号,name\n13800138000,A\n123,B\n".encode()),
        contact_list=contact_list,
    )
    contact_import = services.contact_import_run(contact_import_id=started.pk)
    return {"template": template, "list": contact_list, "campaign": campaign, "import": contact_import}


def pages(world):
    c, cl, imp = world["campaign"], world["list"], world["import"]
    return [
        reverse("campaigns:detail", args=[c.pk]),
        reverse("campaigns:progress", args=[c.pk]),
        reverse("campaigns:review", args=[c.pk]),
        reverse("campaigns:edit", args=[c.pk]),
        reverse("campaigns:list_detail", args=[cl.pk]),
        reverse("campaigns:import_detail", args=[imp.pk]),
        reverse("campaigns:import_progress", args=[imp.pk]),
        reverse("campaigns:import_rejections", args=[imp.pk]),
    ]


@pytest.mark.django_db
def test_member_sees_every_page(member_client, world):
    for url in [*pages(world), reverse("campaigns:index"), reverse("campaigns:lists"), reverse("campaigns:new")]:
        response = member_client.get(url)
        assert response.status_code == 200, url
    response = member_client.get(reverse("campaigns:import_rejections", args=[world["import"].pk]))
    body = b"".join(response.streaming_content).decode()
    assert "123" in body and "3" in body


@pytest.mark.django_db
def test_outsider_gets_404_everywhere(outsider_client, world):
    for url in pages(world):
        assert outsider_client.get(url).status_code == 404, url
    for action in ("start", "pause", "resume", "cancel"):
        url = reverse("campaigns:action", args=[world["campaign"].pk, action])
        assert outsider_client.post(url).status_code == 404
    assert outsider_client.post(reverse("campaigns:review", args=[world["campaign"].pk])).status_code == 404
    assert outsider_client.post(reverse("campaigns:list_delete", args=[world["list"].pk])).status_code == 404
    assert outsider_client.post(reverse("campaigns:test_send", args=[world["campaign"].pk])).status_code == 404
    assert Campaign.objects.get(pk=world["campaign"].pk).status == "draft"


@pytest.mark.django_db
def test_viewer_reads_but_cannot_act(client_for, member, world):
    viewer = client_for(MembershipFactory(tenant=member.tenant, role=Role.VIEWER))
    assert viewer.get(reverse("campaigns:detail", args=[world["campaign"].pk])).status_code == 200
    assert viewer.post(reverse("campaigns:action", args=[world["campaign"].pk, "start"])).status_code == 403
    assert viewer.post(reverse("campaigns:list_upload")).status_code == 403
    assert viewer.get(reverse("campaigns:new")).status_code == 403
    assert viewer.post(reverse("campaigns:review", args=[world["campaign"].pk])).status_code == 404
    finance = client_for(MembershipFactory(tenant=member.tenant, role=Role.FINANCE))
    assert finance.post(reverse("campaigns:action", args=[world["campaign"].pk, "pause"])).status_code == 403


@pytest.mark.django_db
def test_operator_starts_and_pauses_from_the_pages(client_for, teammate, world):
    operator = client_for(teammate)
    campaign = world["campaign"]
    response = operator.post(reverse("campaigns:action", args=[campaign.pk, "start"]))
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == "running"
    operator.post(reverse("campaigns:action", args=[campaign.pk, "pause"]))
    campaign.refresh_from_db()
    assert campaign.status == "paused"
    page = operator.get(reverse("campaigns:progress", args=[campaign.pk])).content.decode()
    assert 'id="resume"' in page


@pytest.mark.django_db
def test_upload_page_shows_inline_errors_and_creates_nothing(member_client, member):
    response = member_client.post(
        reverse("campaigns:list_upload"),
        {"new_list_name": "新名单", "file": SimpleUploadedFile("x.csv", "姓名,城市\n张三,北京\n".encode())},
    )
    assert response.status_code == 422
    assert "手机号" in response.content.decode()
    assert not ContactImport.objects.exists()


@pytest.mark.django_db
def test_campaign_form_creates_a_draft_and_shows_audience_size(member_client, world):
    data = {
        "name": "新品",
        "template_id": world["template"].pk,
        "list_ids": [world["list"].pk],
        "consent": "any",
        "link_variable": "link",
        "link_url": "https://hm.example.cn/new",
        "rate_per_minute": "0",
        "respect_quiet_hours": "on",
    }
    size = member_client.get(reverse("campaigns:audience_size"), data).content.decode()
    assert 'data-size="7"' in size
    response = member_client.post(reverse("campaigns:new"), data)
    assert response.status_code == 302
    created = Campaign.objects.get(name="新品")
    assert created.respect_quiet_hours and created.status == "draft"
    past = {**data, "name": "过去", "send_at": "2020-01-01T08:00"}
    response = member_client.post(reverse("campaigns:new"), past)
    assert response.status_code == 200
    assert not Campaign.objects.filter(name="过去").exists()


@pytest.mark.django_db
def test_quiet_hours_settings_page(member_client, member):
    response = member_client.post(
        reverse("campaigns:settings"),
        {"send_window_start": "09:00", "send_window_end": "20:30", "quiet_classes": ["marketing", "notification"]},
    )
    assert response.status_code == 302
    saved = services.campaign_settings_for(tenant=member.tenant)
    assert str(saved.send_window_end) == "20:30:00"
    assert saved.quiet_classes == ["marketing", "notification"]


@pytest.mark.django_db
def test_large_audience_is_reviewed_in_the_background(member_client, world, monkeypatch):
    from campaigns import tasks

    monkeypatch.setattr(services, "REVIEW_INLINE_LIMIT", 2)
    campaign = world["campaign"]
    Campaign.objects.filter(pk=campaign.pk).update(review={})
    page = member_client.post(reverse("campaigns:review", args=[campaign.pk])).content.decode()
    assert 'id="review-pending"' in page
    campaign.refresh_from_db()
    assert campaign.review == {"pending": True}
    tasks.campaign_review_run(campaign.pk, None)  # what the bulk worker runs
    page = member_client.get(reverse("campaigns:review", args=[campaign.pk])).content.decode()
    assert 'id="review-messages">6<' in page, page[page.find("review-area") : page.find("review-area") + 600]
    assert 'id="review-pending"' not in page, page[
        page.find("review-pending") - 300 : page.find("review-pending") + 100
    ]
