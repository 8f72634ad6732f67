"""Quiet hours and pacing: when may each message of a campaign go out.

A send window is [start, end) in the tenant's local time; start > end means it runs across
midnight (e.g. 20:00–02:00), start == end means "any time". Times are computed in the
tenant's zone with zoneinfo, so daylight-saving jumps elsewhere are handled too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class SendWindow:
    start: dt.time
    end: dt.time
    zone: ZoneInfo

    @property
    def always_open(self) -> bool:
        return self.start == self.end

    def _is_open_local(self, local: dt.time) -> bool:
        if self.always_open:
            return True
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # across midnight

    def is_open(self, moment: dt.datetime) -> bool:
        return self._is_open_local(moment.astimezone(self.zone).time().replace(tzinfo=None))

    def next_open(self, moment: dt.datetime) -> dt.datetime:
        """`moment` itself when the window is open then, else the next opening."""
        if self.is_open(moment):
            return moment
        local = moment.astimezone(self.zone)
        for days in (0, 1, 2):
            day = local.date() + dt.timedelta(days=days)
            opening = dt.datetime.combine(day, self.start, tzinfo=self.zone)
            if opening >= local:
                return opening.astimezone(dt.UTC)
        raise AssertionError("a send window always opens within two days")

    def closes_after(self, moment: dt.datetime) -> dt.datetime | None:
        """When the window that is open at `moment` closes (None if it never does)."""
        if self.always_open:
            return None
        local = moment.astimezone(self.zone)
        for days in (0, 1):
            closing = dt.datetime.combine(local.date() + dt.timedelta(days=days), self.end, tzinfo=self.zone)
            if closing > local:
                return closing.astimezone(dt.UTC)
        return None


class Pacer:
    """Hands out send times: the rate cap spaces messages evenly (per minute), the window
    pushes anything that would fall in quiet hours to the next opening."""

    def __init__(self, *, start: dt.datetime, rate_per_minute: int = 0, window: SendWindow | None = None):
        self.window = window
        self.step = dt.timedelta(minutes=1) / rate_per_minute if rate_per_minute else dt.timedelta(0)
        self.clock = self._fit(start)
        self.closes = self._closing(self.clock)

    def _fit(self, moment: dt.datetime) -> dt.datetime:
        return self.window.next_open(moment) if self.window else moment

    def _closing(self, moment: dt.datetime) -> dt.datetime | None:
        return self.window.closes_after(moment) if self.window else None

    def next(self) -> dt.datetime:
        moment = self.clock
        if self.step:
            self.clock = moment + self.step
            if self.closes is not None and self.clock >= self.closes:
                self.clock = self._fit(self.clock)
                self.closes = self._closing(self.clock)
        return moment

    def plan(self, count: int) -> tuple[dt.datetime, dt.timedelta] | list[dt.datetime]:
        """The next `count` send times without handing them out: (first, step) when they are
        evenly spaced inside one open window (time k is first + k × step), else the list."""
        if not self.step or self.closes is None or self.clock + self.step * max(count - 1, 0) < self.closes:
            return self.clock, self.step
        clone = Pacer.__new__(Pacer)
        clone.__dict__.update(self.__dict__)
        return [clone.next() for _ in range(count)]

    def advance(self, count: int) -> None:
        """Hand out `count` times at once (as `count` calls of next() would)."""
        if not self.step or count <= 0:
            return
        if self.closes is None or self.clock + self.step * count < self.closes:
            self.clock += self.step * count
            return
        for _ in range(count):
            self.next()


def window_for(*, tenant, message_class: str, respect: bool = True) -> SendWindow | None:
    """The tenant's send window for this class, or None when the class may go any time."""
    if not respect:
        return None
    from campaigns.services import campaign_settings_for

    settings = campaign_settings_for(tenant=tenant)
    if message_class not in settings.quiet_classes:
        return None
    window = SendWindow(settings.send_window_start, settings.send_window_end, ZoneInfo(tenant.timezone))
    return None if window.always_open else window
