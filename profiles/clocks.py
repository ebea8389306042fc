"""Clocks: how a regulation counts time, exact to the minute and time-zone aware.

Four clocks, each in both directions (add a duration to a moment; measure between two moments):

- ``calendar``          wall-clock time ("в течение 30 минут").
- ``working``           working time: office hours with the lunch break, on working days of the
                        production calendar; a shortened day ends one hour earlier ("4 рабочих часа").
- ``working_days``      whole working days ("3 рабочих дня со дня размещения"): the period starts the
                        day after the event and ends when the office closes on the N-th working day
                        (Civil Code art. 191, 193, 194).
- ``calendar_working``  wall-clock time counted on working days only, weekends and holidays not
                        counted ("24 часа, выходные и праздничные дни не учитываются").

Conventions, the same for every interval clock:
- ``add(t, d)`` is the earliest moment at which ``d`` of counted time has passed since ``t``. So a result
  may be the very end of a working period (12:00 + 1 h = 13:00, when lunch starts), never inside a gap.
- ``add(t, 0) == t``.
- ``subtract(t, d)`` is the latest moment from which ``d`` of counted time passes until ``t``.
- ``between(a, b)`` is the counted time in [a, b]; negative when b < a.

All arithmetic is done on UTC instants; local dates and office hours are read in the profile's zone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from functools import lru_cache

from profiles.calendar import DayKind, ProductionCalendar

ZERO = timedelta(0)
DAY = timedelta(days=1)
# How far a computation may walk before giving up: a clock with no working time at all must fail, not hang.
MAX_DAYS = 366 * 5


class Clock(StrEnum):
    CALENDAR = "calendar"
    WORKING = "working"
    WORKING_DAYS = "working_days"
    CALENDAR_WORKING = "calendar_working"

    @property
    def counts_days(self) -> bool:
        return self is Clock.WORKING_DAYS


CLOCK_TITLES_RU = {
    Clock.CALENDAR: "календарное время",
    Clock.WORKING: "рабочее время",
    Clock.WORKING_DAYS: "рабочие дни",
    Clock.CALENDAR_WORKING: "календарное время в рабочие дни",
}


@dataclass(frozen=True)
class Period:
    """A span of local time within one day, [start, end). end may be 24:00, written as time.max."""

    start: time
    end: time

    def __str__(self) -> str:
        end = "24:00" if self.end == time.max else self.end.strftime("%H:%M")
        return f"{self.start:%H:%M}-{end}"


@dataclass(frozen=True)
class OfficeHours:
    """Office hours per weekday (0 = Monday) with the lunch break carved out.

    ``weekdays[i]`` is the list of working periods of a normal weekday i (empty = day off by the week).
    ``worked_weekend`` are the periods of a Saturday or Sunday the calendar makes a working day.
    ``short_by`` is how much earlier a shortened pre-holiday day ends.
    """

    weekdays: tuple[tuple[Period, ...], ...]
    worked_weekend: tuple[Period, ...]
    short_by: timedelta = timedelta(hours=1)

    def periods(self, day: date, kind: DayKind) -> tuple[Period, ...]:
        if kind is DayKind.OFF:
            return ()
        periods = self.weekdays[day.weekday()]
        if not periods and day.weekday() >= 5:  # a Saturday or Sunday the calendar makes working
            periods = self.worked_weekend
        if kind is DayKind.SHORT and periods:
            periods = _shorten(periods, self.short_by)
        return periods


def _shorten(periods: tuple[Period, ...], by: timedelta) -> tuple[Period, ...]:
    """Cut ``by`` off the end of the day, across the lunch break if needed."""
    out = list(periods)
    left = by
    while out and left > ZERO:
        last = out[-1]
        length = _minutes(last.end) - _minutes(last.start)
        cut = int(left.total_seconds() // 60)
        if cut < length:
            end = _minutes(last.end) - cut
            out[-1] = Period(last.start, time(end // 60, end % 60))
            break
        out.pop()
        left -= timedelta(minutes=length)
    return tuple(out)


def _minutes(t: time) -> int:
    return 24 * 60 if t == time.max else t.hour * 60 + t.minute


WHOLE_DAY = (Period(time(0, 0), time.max),)


class BusinessClock:
    """One profile's time arithmetic: its zone, its office hours and its production calendar."""

    def __init__(self, tz: tzinfo, hours: OfficeHours, calendar: ProductionCalendar) -> None:
        self.tz = tz
        self.hours = hours
        self.calendar = calendar
        self._spans = lru_cache(maxsize=8192)(self._spans_uncached)

    # --- public API -------------------------------------------------------------------------

    def add(self, start: datetime, amount: timedelta | int, clock: Clock) -> datetime:
        """The deadline: ``amount`` (a timedelta, or whole days for working_days) after ``start``."""
        _check_aware(start)
        if clock is Clock.CALENDAR:
            return (start.astimezone(UTC) + _as_delta(amount)).astimezone(self.tz)
        if clock is Clock.WORKING_DAYS:
            return self._add_days(start, _as_days(amount))
        delta = _as_delta(amount)
        if delta < ZERO:
            return self.subtract(start, -delta, clock)
        return self._walk_forward(start, delta, whole_days=clock is Clock.CALENDAR_WORKING)

    def subtract(self, end: datetime, amount: timedelta | int, clock: Clock) -> datetime:
        """The latest moment from which ``amount`` of ``clock`` time passes until ``end``."""
        _check_aware(end)
        if clock is Clock.CALENDAR:
            return (end.astimezone(UTC) - _as_delta(amount)).astimezone(self.tz)
        if clock is Clock.WORKING_DAYS:
            return self._subtract_days(end, _as_days(amount))
        delta = _as_delta(amount)
        if delta < ZERO:
            return self.add(end, -delta, clock)
        return self._walk_backward(end, delta, whole_days=clock is Clock.CALENDAR_WORKING)

    def between(self, a: datetime, b: datetime, clock: Clock) -> timedelta | int:
        """Counted time from a to b (negative if b < a); whole working days for working_days."""
        _check_aware(a)
        _check_aware(b)
        if clock is Clock.WORKING_DAYS:
            return self._days_between(a, b)
        if b < a:
            return -self.between(b, a, clock)
        if clock is Clock.CALENDAR:
            return b.astimezone(UTC) - a.astimezone(UTC)
        total = ZERO
        for lo, hi in self._spans_from(a, whole_days=clock is Clock.CALENDAR_WORKING):
            if lo >= b:
                break
            total += min(hi, b) - max(lo, a)
        return total

    def is_counted(self, moment: datetime, clock: Clock) -> bool:
        """True when the clock runs at this moment (inside a working period)."""
        _check_aware(moment)
        if clock is Clock.CALENDAR:
            return True
        local = moment.astimezone(self.tz)
        whole = clock is Clock.CALENDAR_WORKING
        return any(lo <= moment < hi for lo, hi in self._spans(local.date(), whole))

    def day_start(self, day: date, clock: Clock) -> datetime | None:
        """The first counted moment of a local day on ``clock`` (office opening for the working clocks,
        midnight for calendar_working), or None when nothing of that day is counted."""
        if clock is Clock.CALENDAR:
            return datetime.combine(day, time(0, 0), self.tz)
        spans = self._spans(day, clock is Clock.CALENDAR_WORKING)
        return spans[0][0].astimezone(self.tz) if spans else None

    def next_start(self, moment: datetime, clock: Clock) -> datetime:
        """The first moment at or after ``moment`` from which ``clock`` runs: ``moment`` itself inside a
        counted period, else the next opening (18:00 Friday → 09:00 Monday on the working clock)."""
        _check_aware(moment)
        if clock is Clock.CALENDAR:
            return moment.astimezone(self.tz)
        lo, _hi = next(self._spans_from(moment, whole_days=clock is Clock.CALENDAR_WORKING))
        return lo.astimezone(self.tz)  # clipped: ``moment`` itself when the clock runs then

    def working_periods(self, day: date) -> tuple[Period, ...]:
        return self.hours.periods(day, self.calendar.kind(day))

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz)

    # --- interval clocks (working, calendar_working) ----------------------------------------

    def _spans_uncached(self, day: date, whole_days: bool) -> tuple[tuple[datetime, datetime], ...]:
        """The counted spans of one local day, as UTC instants."""
        kind = self.calendar.kind(day)
        if kind is DayKind.OFF:
            return ()
        periods = WHOLE_DAY if whole_days else self.hours.periods(day, kind)
        spans = []
        for p in periods:
            lo = datetime.combine(day, p.start, self.tz)
            hi = (
                datetime.combine(day + DAY, time(0, 0), self.tz)
                if p.end == time.max
                else datetime.combine(day, p.end, self.tz)
            )
            spans.append((lo.astimezone(UTC), hi.astimezone(UTC)))
        return tuple(spans)

    def _spans_from(self, start: datetime, whole_days: bool) -> Iterator[tuple[datetime, datetime]]:
        """Counted spans that end after ``start``, in order, clipped to begin no earlier than it."""
        day = start.astimezone(self.tz).date() - DAY  # a span of the previous local day may still run
        for _ in range(MAX_DAYS):
            for lo, hi in self._spans(day, whole_days):
                if hi > start:
                    yield max(lo, start), hi
            day += DAY
        raise ValueError(f"no working time within {MAX_DAYS} days after {start.isoformat()}")

    def _spans_before(self, end: datetime, whole_days: bool) -> Iterator[tuple[datetime, datetime]]:
        """Counted spans that start before ``end``, latest first, clipped to end no later than it."""
        day = end.astimezone(self.tz).date() + DAY
        for _ in range(MAX_DAYS):
            for lo, hi in reversed(self._spans(day, whole_days)):
                if lo < end:
                    yield lo, min(hi, end)
            day -= DAY
        raise ValueError(f"no working time within {MAX_DAYS} days before {end.isoformat()}")

    def _walk_forward(self, start: datetime, delta: timedelta, whole_days: bool) -> datetime:
        if delta == ZERO:
            return start.astimezone(self.tz)
        left = delta
        for lo, hi in self._spans_from(start, whole_days):
            if left <= hi - lo:
                return (lo + left).astimezone(self.tz)
            left -= hi - lo
        raise AssertionError("unreachable")

    def _walk_backward(self, end: datetime, delta: timedelta, whole_days: bool) -> datetime:
        if delta == ZERO:
            return end.astimezone(self.tz)
        left = delta
        for lo, hi in self._spans_before(end, whole_days):
            if left <= hi - lo:
                return (hi - left).astimezone(self.tz)
            left -= hi - lo
        raise AssertionError("unreachable")

    # --- working days ------------------------------------------------------------------------

    def _nth_working_day(self, day: date, n: int) -> date:
        """The n-th working day after ``day`` (n >= 1), or before it for n <= -1."""
        step = DAY if n > 0 else -DAY
        count = 0
        for _ in range(MAX_DAYS):
            day += step
            if self.calendar.is_working(day):
                count += 1
                if count == abs(n):
                    return day
        raise ValueError(f"no {abs(n)} working days within {MAX_DAYS} days of {day}")

    def _close_of(self, day: date) -> datetime:
        """When the office closes on a working day (end of its last working period)."""
        periods = self.working_periods(day)
        if not periods:
            # a working day with no office hours by the week: count the day to its end
            return datetime.combine(day + DAY, time(0, 0), self.tz)
        last = periods[-1]
        if last.end == time.max:
            return datetime.combine(day + DAY, time(0, 0), self.tz)
        return datetime.combine(day, last.end, self.tz)

    def _day_of(self, moment: datetime) -> date:
        """The local date an event belongs to. A day whose office closes at 24:00 ends at the next
        day's 00:00: that moment is still the closing day's, so counting from a deadline skips nothing."""
        local = moment.astimezone(self.tz)
        day = local.date()
        if local.time() == time(0, 0):
            before = day - DAY
            if self.calendar.is_working(before) and self._close_of(before) == local:
                return before
        return day

    def _add_days(self, start: datetime, n: int) -> datetime:
        if n == 0:
            return start.astimezone(self.tz)
        if n < 0:
            return self._subtract_days(start, -n)
        return self._close_of(self._nth_working_day(self._day_of(start), n))

    def _subtract_days(self, end: datetime, n: int) -> datetime:
        """The latest moment from which ``n`` working days end no later than ``end``.

        Inverse of ``_add_days`` at office closing times: the close of the n-th working day before
        the last working day whose close is not after ``end``.
        """
        if n == 0:
            return end.astimezone(self.tz)
        if n < 0:
            return self._add_days(end, -n)
        day = self._day_of(end)
        if not (self.calendar.is_working(day) and self._close_of(day) <= end):
            day = self._nth_working_day(day, -1)
        return self._close_of(self._nth_working_day(day, -n))

    def _days_between(self, a: datetime, b: datetime) -> int:
        """Working days d with date(a) < d <= date(b), local dates; negative when b < a."""
        if b < a:
            return -self._days_between(b, a)
        da, db = self._day_of(a), self._day_of(b)
        count = 0
        day = da + DAY
        while day <= db:
            if self.calendar.is_working(day):
                count += 1
            day += DAY
        return count


def _check_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: a moment must carry its time zone")


def _as_delta(amount: timedelta | int) -> timedelta:
    if isinstance(amount, timedelta):
        return amount
    raise TypeError(f"a duration is needed for this clock, got {amount!r}")


def _as_days(amount: timedelta | int) -> int:
    if isinstance(amount, int):
        return amount
    if isinstance(amount, timedelta) and amount % DAY == ZERO:
        return amount // DAY
    raise TypeError(f"whole working days are needed, got {amount!r}")
