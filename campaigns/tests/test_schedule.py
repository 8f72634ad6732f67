import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from campaigns.schedule import Pacer, SendWindow

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC
DAY = SendWindow(dt.time(8), dt.time(21), SHANGHAI)
NIGHT = SendWindow(dt.time(20), dt.time(2), SHANGHAI)  # across midnight


def local(day, hour, minute=0, zone=SHANGHAI):
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=zone)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (local(11, 7, 59), local(11, 8)),  # just before opening
        (local(11, 8), local(11, 8)),  # opening instant is inside
        (local(11, 20, 59), local(11, 20, 59)),
        (local(11, 21), local(12, 8)),  # closing instant is outside: next morning
        (local(11, 23, 30), local(12, 8)),
        (local(12, 0, 5), local(12, 8)),  # after midnight: same calendar day's opening
    ],
)
def test_day_window_boundaries(moment, expected):
    assert DAY.next_open(moment) == expected


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (local(11, 19, 59), local(11, 20)),
        (local(11, 23), local(11, 23)),
        (local(12, 1, 59), local(12, 1, 59)),  # still open after midnight
        (local(12, 2), local(12, 20)),  # closed at 02:00 until the evening
    ],
)
def test_window_across_midnight(moment, expected):
    assert NIGHT.next_open(moment) == expected


def test_window_is_in_the_tenants_time_zone():
    # 13:30 UTC is 21:30 in Shanghai (closed) but 14:30 in London (open for a London tenant).
    moment = dt.datetime(2026, 11, 11, 13, 30, tzinfo=UTC)
    assert DAY.next_open(moment) == local(12, 8)
    london = SendWindow(dt.time(8), dt.time(21), ZoneInfo("Europe/London"))
    assert london.next_open(moment) == moment


def test_window_over_a_daylight_saving_change():
    new_york = ZoneInfo("America/New_York")
    window = SendWindow(dt.time(8), dt.time(21), new_york)
    # 2026-11-01 is the autumn change in New York: 08:00 local is 13:00 UTC (it was 12:00 the day before).
    moment = dt.datetime(2026, 10, 31, 22, 0, tzinfo=new_york)
    assert window.next_open(moment) == dt.datetime(2026, 11, 1, 13, 0, tzinfo=UTC)


def test_pacer_spreads_by_rate_and_skips_quiet_hours():
    pacer = Pacer(start=local(11, 20, 58), rate_per_minute=1, window=DAY)
    times = [pacer.next() for _ in range(4)]
    assert times == [local(11, 20, 58), local(11, 20, 59), local(12, 8), local(12, 8, 1)]


def test_pacer_without_cap_sends_everything_at_the_next_opening():
    pacer = Pacer(start=local(11, 22), rate_per_minute=0, window=DAY)
    assert {pacer.next() for _ in range(5)} == {local(12, 8)}
    free = Pacer(start=local(11, 22))
    assert free.next() == local(11, 22)
