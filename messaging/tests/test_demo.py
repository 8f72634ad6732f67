from django.db.models import Count

from billing.models import LedgerEntry
from messaging.models import Channel, InboundMessage, Message


def test_demo_seed_has_channels_and_a_month_of_traffic(db):
    from smsportal.demo import seed

    seed()
    for carrier in ("mobile", "unicom", "telecom", "broadnet"):
        assert Channel.objects.filter(carriers__contains=[carrier], enabled=True, adapter="simulated").count() >= 2
    assert Channel.objects.filter(adapter="http", enabled=False).exists()
    by_tenant = dict(Message.objects.values_list("tenant__slug").annotate(n=Count("id")))
    assert by_tenant["huamei-retail"] > 20000 and by_tenant["kuaida-logistics"] > 10000
    statuses = set(Message.objects.values_list("status", flat=True).distinct())
    assert {"delivered", "failed", "expired"} <= statuses
    reasons = set(Message.objects.filter(status="failed").values_list("failure_reason", flat=True).distinct())
    assert {"vacant_number", "unreachable", "carrier_blacklist"} <= reasons
    delivered = Message.objects.filter(status="delivered").count()
    assert LedgerEntry.objects.filter(kind="capture").count() == delivered
    assert InboundMessage.objects.exists()
