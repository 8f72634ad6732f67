import pytest

from campaigns.models import Campaign, ContactList, LinkClick
from messaging.models import Message


@pytest.mark.django_db
def test_demo_seed_has_lists_and_campaigns_in_every_state():
    from smsportal import demo

    assert demo.seed() is True
    lists = ContactList.objects.filter(tenant__slug="huamei-retail")
    assert lists.count() == 2
    assert all(cl.contact_count > 500 for cl in lists)
    assert ContactList.objects.filter(tenant__slug="kuaida-logistics").count() == 1
    statuses = set(Campaign.objects.filter(tenant__slug="huamei-retail").values_list("status", flat=True))
    assert {"completed", "scheduled", "draft"} <= statuses
    double11 = Campaign.objects.get(name="双11会员狂欢")
    sent = Message.objects.filter(campaign_id=double11.pk)
    assert sent.filter(status="delivered").count() > 100
    assert sent.filter(status="failed").exists()
    assert LinkClick.objects.filter(campaign=double11).exists()
