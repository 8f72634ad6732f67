from messaging.smpp.config import parse_settings
from messaging.smpp.demo import DEMO_CHANNEL, seed
from smsportal.demo import DemoContext
from smsportal.factories import TenantFactory


def test_demo_seed_adds_a_valid_smpp_channel_once(db):
    tenants = {"huamei-retail": TenantFactory(), "kuaida-logistics": TenantFactory()}
    ctx = DemoContext(tenants=tenants)
    channel = seed(ctx)
    settings = parse_settings(channel.settings)
    assert channel.adapter == "smpp" and channel.enabled
    assert {settings.source_for(t.pk) for t in tenants.values()} == {"1069000101", "1069000102"}
    assert seed(ctx).pk == channel.pk
    assert channel.name == DEMO_CHANNEL
