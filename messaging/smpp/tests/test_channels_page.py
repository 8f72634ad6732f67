from smsportal.factories.messaging import ChannelFactory
from smsportal.factories.smpp import SmppChannelFactory


def test_channels_page_shows_smpp_bind_state_only_for_smpp_channels(staff_client):
    SmppChannelFactory(name="移动直连SMPP")
    ChannelFactory(name="模拟通道")
    html = staff_client.get("/staff/messaging/").content.decode()
    assert "移动直连SMPP" in html and "模拟通道" in html
    assert html.count('class="smpp-binds"') == 1  # no connector has reported yet: a warning badge


def test_channel_page_shows_each_bind_and_links_open_reviews(staff_client, tenant):
    from messaging.smpp.models import SmppBindStatus, SmppReview
    from smsportal.factories.messaging import MessageFactory

    channel = SmppChannelFactory(name="移动直连SMPP")
    SmppBindStatus.objects.create(
        channel=channel,
        state="partial",
        binds_bound=1,
        binds_total=2,
        connections=[
            {"label": "1/transceiver", "state": "bound", "outstanding": 3, "window": 10, "submitted": 5,
             "last_error": ""},
            {"label": "2/transceiver", "state": "down", "outstanding": 0, "window": 10, "submitted": 0,
             "last_error": "ConnectionRefusedError"},
        ],
    )  # fmt: skip
    message = MessageFactory(tenant=tenant, channel=channel, status="submitted")
    SmppReview.objects.create(tenant=tenant, message=message, channel=channel, reason="dropped_in_flight")
    html = staff_client.get(f"/staff/messaging/channels/{channel.pk}/").content.decode()
    assert "1/transceiver" in html and "2/transceiver" in html and "ConnectionRefusedError" in html
    assert f"/staff/messaging/smpp/reviews/?channel={channel.pk}" in html
    assert 'class="smpp-binds"' not in staff_client.get("/staff/messaging/channels/new/").content.decode()
