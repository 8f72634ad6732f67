from datetime import datetime, timedelta

import pytest

from templates.worktime import REVIEW_ZONE, add_working_time, review_due, working_time_between


def bj(*args) -> datetime:
    return datetime(*args, tzinfo=REVIEW_ZONE)


@pytest.mark.parametrize(
    ("queued", "due"),
    [
        (bj(2026, 11, 25, 10, 0), bj(2026, 11, 25, 12, 0)),  # Wednesday morning
        (bj(2026, 11, 25, 17, 0), bj(2026, 11, 26, 10, 0)),  # spills into the next morning
        (bj(2026, 11, 25, 20, 0), bj(2026, 11, 26, 11, 0)),  # evening: the clock starts at 9:00
        (bj(2026, 11, 27, 17, 30), bj(2026, 11, 30, 10, 30)),  # Friday → Monday
        (bj(2026, 11, 28, 12, 0), bj(2026, 11, 30, 11, 0)),  # Saturday → Monday
        (bj(2026, 11, 25, 7, 0), bj(2026, 11, 25, 11, 0)),  # before opening
    ],
)
def test_review_due(queued, due):
    assert review_due(queued) == due


def test_working_time_between_skips_nights_and_weekends():
    assert working_time_between(bj(2026, 11, 27, 17, 0), bj(2026, 11, 30, 10, 0)) == timedelta(hours=2)
    assert working_time_between(bj(2026, 11, 25, 10, 0), bj(2026, 11, 25, 10, 45)) == timedelta(minutes=45)
    assert working_time_between(bj(2026, 11, 28, 10, 0), bj(2026, 11, 29, 10, 0)) == timedelta(0)


def test_add_working_time_multiple_days():
    assert add_working_time(bj(2026, 11, 25, 9, 0), timedelta(hours=18)) == bj(2026, 11, 26, 18, 0)
