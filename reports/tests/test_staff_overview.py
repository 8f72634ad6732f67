"""The platform staff overview: all tenants and channels, channels' health over time, review
queue response times, worst templates. Rollup rows are crafted so every number is known."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from reports import selectors
from reports.selectors import Period
from smsportal.factories import MembershipFactory, TenantFactory
from smsportal.factories.compliance import ComplaintFactory
from smsportal.factories.messaging import ChannelFactory
from smsportal.factories.reports import rollup_rows
from smsportal.factories.templates import MessageTemplateFactory, TemplateVersionFactory
from templates.models import ReviewCase

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), SHANGHAI)


def rollup(tenant, hour: datetime, channel, *, delivered=0, failed=0, expired=0, lat=None, **extra):
    """The rollup rows of one hour's messages sharing one value per dimension; `lat` maps
    latency bucket names (lat_1 … lat_more) to counts and defaults to every delivery within 1 s."""
    buckets = lat if lat is not None else {"lat_1": delivered}
    return rollup_rows(
        tenant,
        hour,
        carrier="mobile",
        province="广东省",
        channel_id=channel.pk if channel is not None else None,
        message_class="notification",
        accepted=delivered + failed + expired,
        submitted=delivered + failed + expired,
        delivered=delivered,
        failed=failed,
        expired=expired,
        **buckets,
        **extra,
    )


@pytest.fixture
def two_channels(db):
    return ChannelFactory(name="通道甲"), ChannelFactory(name="通道乙")


@pytest.fixture
def crafted(tenant, two_channels):
    """Two days (2026-03-01/02, Shanghai), two tenants, two channels, plus rows that must be
    left out: another period, and rejected messages with no channel."""
    first, second = two_channels
    other = TenantFactory()
    day1, day2 = date(2026, 3, 1), date(2026, 3, 2)
    # Channel 1, day 1 at 09:00: 90 delivered (80 ≤1 s, 10 in 5–10 s) + 10 failed, both tenants.
    rollup(tenant, at(day1, 9), first, delivered=60, failed=5, lat={"lat_1": 55, "lat_10": 5})
    rollup(other, at(day1, 9), first, delivered=30, failed=5, lat={"lat_1": 25, "lat_10": 5})
    # Channel 1, day 1 at 10:00: 50 delivered, all ≤1 s.
    rollup(tenant, at(day1, 10), first, delivered=50)
    # Channel 2, day 2 at 23:00 Shanghai (15:00 UTC): 40 delivered of 50; 40 in 2–3 s.
    rollup(tenant, at(day2, 23), second, delivered=40, expired=10, lat={"lat_3": 40})
    # Left out: no channel (rejected at accept), and outside the period.
    rollup(tenant, at(day1, 11), None, rejected=7)
    rollup(tenant, at(date(2026, 3, 3), 0), first, delivered=999)
    rollup(tenant, at(day1, 0) - timedelta(hours=1), first, delivered=999)
    return Period(at(day1, 0), at(date(2026, 3, 3), 0)), first, second


def test_hourly_series_per_channel_in_one_query(crafted, django_assert_num_queries):
    period, first, second = crafted
    with django_assert_num_queries(1):
        series = selectors.channel_health_series(period=period, step="hour", zone="Asia/Shanghai")
    assert set(series) == {first.pk, second.pk}
    nine = series[first.pk][at(date(2026, 3, 1), 9)]
    assert (nine.delivered, nine.failed, nine.finished) == (90, 10, 100)
    assert nine.delivery_rate == pytest.approx(0.9)
    # 90 deliveries: 80 within 1 s, 10 in (5, 10] → p95 at rank 85.5 = 5 + 5 × 5.5/10.
    assert nine.p95 == pytest.approx(7.75)
    ten = series[first.pk][at(date(2026, 3, 1), 10)]
    assert ten.delivery_rate == 1.0 and ten.p95 == pytest.approx(0.95)
    assert list(series[second.pk]) == [at(date(2026, 3, 2), 23)]
    late = series[second.pk][at(date(2026, 3, 2), 23)]
    assert late.delivery_rate == pytest.approx(0.8)
    assert late.p95 == pytest.approx(2.95)


def test_daily_series_buckets_by_the_platform_day(crafted):
    period, first, second = crafted
    series = selectors.channel_health_series(period=period, step="day", zone="Asia/Shanghai")
    day1 = series[first.pk][datetime.combine(date(2026, 3, 1), time.min, SHANGHAI)]
    assert (day1.delivered, day1.failed) == (140, 10)
    assert day1.delivery_rate == pytest.approx(140 / 150)
    # 23:00 Shanghai on the 2nd is 15:00 UTC: it belongs to the 2nd in Shanghai, not the 3rd.
    assert list(series[second.pk]) == [datetime.combine(date(2026, 3, 2), time.min, SHANGHAI)]
    assert first.pk in series and len(series[first.pk]) == 1  # nothing of the rows outside the period


def test_daily_series_in_utc_moves_the_late_hour(crafted):
    period, _first, second = crafted
    series = selectors.channel_health_series(period=period, step="day", zone="UTC")
    assert [bucket.date() for bucket in series[second.pk]] == [date(2026, 3, 2)]


def test_unknown_step_is_refused(crafted):
    with pytest.raises(ValueError):
        selectors.channel_health_series(period=crafted[0], step="week")


def test_buckets_cover_the_period_with_gaps_kept():
    period = Period(at(date(2026, 3, 1), 0), at(date(2026, 3, 3), 0))
    hours = selectors.time_buckets(period, "hour", "Asia/Shanghai")
    assert len(hours) == 48 and hours[0] == at(date(2026, 3, 1), 0) and hours[-1] == at(date(2026, 3, 2), 23)
    days = selectors.time_buckets(period, "day", "Asia/Shanghai")
    assert days == [at(date(2026, 3, 1), 0), at(date(2026, 3, 2), 0)]
    assert selectors.step_for(period) == "hour"
    assert selectors.step_for(Period(at(date(2026, 3, 1), 0), at(date(2026, 3, 31), 0))) == "day"


def _case(tenant, *, queued, due_hours=2, decided=None):
    version = TemplateVersionFactory(template=MessageTemplateFactory(tenant=tenant))
    return ReviewCase.objects.create(
        tenant=tenant,
        subject=ReviewCase.Subject.TEMPLATE,
        template_version=version,
        status=ReviewCase.Status.APPROVED if decided else ReviewCase.Status.PENDING,
        queued_at=queued,
        due_at=queued + timedelta(hours=due_hours),
        decided_at=decided,
    )


def test_review_response_times(tenant):
    now = timezone.now()
    period = Period(now - timedelta(days=7), now + timedelta(minutes=1))
    base = now - timedelta(days=2)
    _case(tenant, queued=base, decided=base + timedelta(hours=1))  # on time
    _case(tenant, queued=base, decided=base + timedelta(hours=3))  # late
    _case(tenant, queued=now - timedelta(days=30), decided=now - timedelta(days=29))  # before the period
    _case(tenant, queued=now - timedelta(hours=5))  # waiting, overdue
    _case(tenant, queued=now - timedelta(minutes=30))  # waiting, not yet due
    stats = selectors.review_response(period=period)
    assert stats["decided"] == 2 and stats["on_time"] == 1 and stats["on_time_rate"] == 0.5
    assert stats["avg_hours"] == pytest.approx(2.0)
    assert stats["longest_hours"] == pytest.approx(3.0)
    assert stats["waiting"] == 2 and stats["overdue"] == 1
    assert stats["oldest_waiting_hours"] == pytest.approx(5.0, abs=0.01)


@pytest.fixture
def recent(tenant, two_channels):
    """Yesterday's traffic (Shanghai), inside the default 30-day period."""
    first, second = two_channels
    yesterday = timezone.localdate(timezone=SHANGHAI) - timedelta(days=1)
    template = MessageTemplateFactory(tenant=tenant, name="催付提醒")
    rollup(tenant, at(yesterday, 9), first, delivered=80, failed=40, template_id=template.pk)
    rollup(tenant, at(yesterday, 10), second, delivered=50)
    return template


def test_staff_overview_shows_every_item(staff_client, tenant, recent, two_channels):
    ComplaintFactory(tenant=tenant)
    _case(tenant, queued=timezone.now() - timedelta(hours=5))
    response = staff_client.get("/staff/reports/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-kpi="sent">170<' in html  # volumes
    assert 'data-kpi="rate">76.47%<' in html  # 130 of 170
    assert 'data-kpi="p95"' in html and 'data-kpi="complaints"' in html
    assert response.context["complaints"] == 1  # complaint rate: counted over the platform's window
    assert f'data-tenant="{tenant.pk}"' in html and tenant.name in html  # per tenant
    assert html.count("<tr data-channel>") == 2 and "通道甲" in html and "通道乙" in html
    first, second = two_channels
    # Channels' health over time: one chart per channel with traffic, daily points for 30 days.
    assert f'data-channel-health="{first.pk}"' in html and f'data-channel-health="{second.pk}"' in html
    assert response.context["health"]["step"] == "day"
    chart = response.context["health"]["channels"][0]["chart"]
    assert chart.startswith("<svg") and "通道甲" in chart
    reviews = response.context["reviews"]
    assert reviews["waiting"] == 1 and reviews["overdue"] == 1
    assert f'data-worst-template="{recent.pk}"' in html and "催付提醒" in html  # 120 finished, 66.67%


def test_staff_overview_period_today_uses_hourly_points(staff_client, recent):
    response = staff_client.get("/staff/reports/?period=today")
    assert response.status_code == 200
    assert response.context["health"]["step"] == "hour"
    assert response.context["total"].accepted == 0  # yesterday's traffic is outside today
    assert response.context["health"]["channels"] == []
    assert "该时间段内通道没有流量。" in response.content.decode()  # zh-Hans is the default language


def test_staff_overview_custom_period(staff_client, recent):
    yesterday = timezone.localdate(timezone=SHANGHAI) - timedelta(days=1)
    response = staff_client.get(f"/staff/reports/?period=custom&start={yesterday}&end={yesterday}")
    assert response.context["total"].accepted == 170
    assert response.context["health"]["step"] == "hour"
    assert len(response.context["health"]["channels"]) == 2


def test_staff_overview_bad_period_is_shown_not_500(staff_client, recent):
    response = staff_client.get("/staff/reports/?period=custom&start=2026-11-10&end=2026-11-01")
    assert response.status_code == 200
    assert "form-errors" in response.content.decode()
    assert response.context["total"].accepted == 170  # falls back to the last 30 days


def test_staff_overview_denied_to_members_outsiders_and_anonymous(client, client_for, member, outsider, recent):
    assert client_for(member).get("/staff/reports/").status_code == 404
    assert client_for(outsider).get("/staff/reports/").status_code == 404
    viewer = MembershipFactory(tenant=member.tenant, role="viewer")
    assert client_for(viewer).get("/staff/reports/").status_code == 404
    response = client.get("/staff/reports/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
