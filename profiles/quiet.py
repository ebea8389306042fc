"""Quiet hours: when people are not pinged, and when a notice that falls inside them is delivered.

Pure time arithmetic on the profile's zone and production calendar. The deadline never moves: quiet hours
change when people are told, never what the regulation says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from profiles.calendar import ProductionCalendar

# A profile whose every moment were quiet would defer forever: give up after this long (and say so).
MAX_DAYS = 366


@dataclass(frozen=True)
class QuietHours:
    tz: tzinfo
    start: time  # nights from this local time…
    end: time  # …to this one (the next morning when end <= start)
    days_off: bool  # days off of the production calendar are quiet all day
    calendar: ProductionCalendar

    def is_quiet(self, moment: datetime) -> bool:
        return self.release(moment) != moment

    def release(self, moment: datetime) -> datetime:
        """``moment`` itself when people may be pinged then, else the end of the quiet time it falls in."""
        local = moment.astimezone(self.tz)
        for _ in range(MAX_DAYS * 2):
            nxt = self._step(local)
            if nxt is None:
                return local
            local = nxt
        raise ValueError(f"quiet hours never end after {moment.isoformat()}")

    def _step(self, local: datetime) -> datetime | None:
        """Where a quiet moment moves next, or None when ``local`` is not quiet."""
        day, now = local.date(), local.time()
        if self.days_off and not self.calendar.is_working(day):
            return datetime.combine(day + timedelta(days=1), time(0, 0), self.tz)
        if self.start == self.end:
            return None
        if self.start < self.end:  # within one day, e.g. 13:00–14:00
            if self.start <= now < self.end:
                return datetime.combine(day, self.end, self.tz)
            return None
        if now >= self.start:  # the evening part of a night: to the next morning
            return datetime.combine(day + timedelta(days=1), self.end, self.tz)
        if now < self.end:  # the morning part
            return datetime.combine(day, self.end, self.tz)
        return None
