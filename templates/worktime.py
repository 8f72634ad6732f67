"""Working-hours arithmetic for the review target (2 working hours, Mon–Fri 09:00–18:00 Beijing)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

REVIEW_ZONE = ZoneInfo("Asia/Shanghai")
DAY_START = time(9, 0)
DAY_END = time(18, 0)
TARGET_WORKING_HOURS = 2


def _is_workday(day) -> bool:
    return day.weekday() < 5


def _next_opening(moment: datetime) -> datetime:
    """The moment itself if inside working hours, else the next 09:00 on a workday."""
    local = moment.astimezone(REVIEW_ZONE)
    while True:
        start = datetime.combine(local.date(), DAY_START, REVIEW_ZONE)
        end = datetime.combine(local.date(), DAY_END, REVIEW_ZONE)
        if _is_workday(local.date()):
            if local < start:
                return start
            if local < end:
                return local
        local = datetime.combine(local.date() + timedelta(days=1), DAY_START, REVIEW_ZONE)


def add_working_time(moment: datetime, duration: timedelta) -> datetime:
    remaining = duration
    current = _next_opening(moment)
    while True:
        end_of_day = datetime.combine(current.date(), DAY_END, REVIEW_ZONE)
        available = end_of_day - current
        if remaining <= available:
            return current + remaining
        remaining -= available
        current = _next_opening(end_of_day + timedelta(seconds=1))


def review_due(queued_at: datetime) -> datetime:
    return add_working_time(queued_at, timedelta(hours=TARGET_WORKING_HOURS))


def working_time_between(start: datetime, end: datetime) -> timedelta:
    """Working time elapsed between two moments (what the review timer shows)."""
    total = timedelta()
    current = _next_opening(start)
    while current < end:
        end_of_day = datetime.combine(current.date(), DAY_END, REVIEW_ZONE)
        total += min(end, end_of_day) - current
        current = _next_opening(end_of_day + timedelta(seconds=1))
    return total
