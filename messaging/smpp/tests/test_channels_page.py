from smsportal.factories.messaging import ChannelFactory
from smsportal.factories.smpp import SmppChannelFactory


def test_channels_page_shows_smpp_bind_state_only_for_smpp_channels(staff_client):
    SmppChannelFactory(name="移动直连SMPP")
    ChannelFactory(name="模拟通道")
    html = staff_client.get("/staff/messaging/").content.decode()
    assert "移动直连SMPP" in html and "模拟通道" in html
    assert html.count('class="smpp-binds"') == 1  # no connector has reported yet: a warning badge
