from datetime import timedelta

from django.template import Context, Template
from django.utils import timezone

from messaging.smpp.models import SmppBindStatus, SmppReview
from messaging.smpp.selectors import bind_statuses
from smsportal.factories.messaging import ChannelFactory, MessageFactory
from smsportal.factories.smpp import SmppChannelFactory

TAG = Template("{% load smpp %}{% smpp_bind_status channel detail=True %}")


def render(channel):
    return TAG.render(Context({"channel": channel}))


def test_bind_status_include_shows_binds_window_throughput_and_error(db, tenant):
    channel = SmppChannelFactory()
    SmppBindStatus.objects.create(
        channel=channel,
        state=SmppBindStatus.State.PARTIAL,
        binds_bound=1,
        binds_total=2,
        window_in_use=7,
        window_size=20,
        submitted_per_second=1234,
        last_error="bind refused: ESME_RINVPASWD",
        connections=[
            {
                "label": "1/transceiver",
                "state": "bound",
                "outstanding": 7,
                "window": 10,
                "submitted": 99,
                "last_error": "",
            }
        ],
        connector="host:1",
    )
    message = MessageFactory(tenant=tenant, channel=channel)
    SmppReview.objects.create(tenant=tenant, message=message, channel=channel, reason="dropped_in_flight")
    html = render(channel)
    assert "1/2" in html and "7/20" in html and "1234" in html
    assert "ESME_RINVPASWD" in html and "1/transceiver" in html
    assert "badge warn" in html


def test_stale_status_says_the_connector_is_not_running(db):
    channel = SmppChannelFactory()
    SmppBindStatus.objects.create(channel=channel, state="bound", updated_at=timezone.now() - timedelta(minutes=5))
    assert bind_statuses(channel_ids=[channel.pk])[channel.pk].is_stale
    assert "badge warn" in render(channel) and "badge ok" not in render(channel)


def test_fresh_bound_status_is_ok_and_other_adapters_render_nothing(db):
    channel = SmppChannelFactory()
    SmppBindStatus.objects.create(channel=channel, state="bound", binds_bound=2, binds_total=2)
    assert "badge ok" in render(channel)
    assert render(ChannelFactory()).strip() == ""
    assert "badge warn" in render(SmppChannelFactory())  # nothing reported yet
