import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from campaigns.selectors import best_send_hour
from messaging.models import Message
from smsportal.factories.messaging import MessageFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")


def sent(tenant, *, hour: int, delivered: int, failed: int):
    day = (dt.datetime.now(SHANGHAI) - dt.timedelta(days=3)).replace(hour=hour, minute=10, second=0, microsecond=0)
    rows = []
    for index in range(delivered + failed):
        rows.append(
            MessageFactory.build(
                tenant=tenant,
                message_class="marketing",
                status="delivered" if index < delivered else "failed",
                submitted_at=day,
                accepted_at=day,
                number=f"+86138{hour:02d}{index:06d}",
            )
        )
    Message.objects.bulk_create(rows)


@pytest.mark.django_db
def test_best_hour_says_when_there_is_too_little_data(tenant):
    sent(tenant, hour=10, delivered=40, failed=1)
    assert best_send_hour(tenant=tenant) == {"hour": None, "enough_data": False, "messages": 41}


@pytest.mark.django_db
def test_best_hour_is_the_local_hour_that_delivered_best(tenant, outsider):
    sent(tenant, hour=10, delivered=180, failed=20)
    sent(tenant, hour=14, delivered=198, failed=2)
    sent(tenant, hour=20, delivered=150, failed=50)
    sent(outsider.tenant, hour=9, delivered=1000, failed=0)  # another tenant's data never counts
    best = best_send_hour(tenant=tenant)
    assert (best["hour"], best["enough_data"], best["messages"]) == (14, True, 600)
    assert best["delivery_rate"] == 99.0
