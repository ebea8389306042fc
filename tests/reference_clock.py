"""A deliberately naive reference for the business clocks, used only to cross-check profiles.clocks.

Nothing here is shared with the code under test: day kinds are read straight from the shipped CSV of
special days (every unlisted Saturday/Sunday is a day off, every unlisted weekday a full working day),
and office hours are plain "HH:MM" strings. Time is walked one local wall-clock minute at a time, so
every answer follows from the definitions in the clocks' module docstring by counting:

- a minute [m, m + 1 min) is *counted* when its local day is a working day and, for the working clock,
  its minute of the day is inside the office hours (lunch removed, the last ``short_by`` minutes of
  working time removed on a shortened day); for calendar_working every minute of a working day counts;
- ``add(t, d)``      walk forward from t, consuming counted minutes; stop right after the d-th one;
- ``subtract(u, d)`` walk backward from u, consuming counted minutes; stop right at the d-th one;
- ``between(a, b)``  the number of counted minutes in [a, b), negated when b < a;
- working days: the N-th working day strictly after the local date of t, closed at the end of its last
  counted office minute; ``between`` counts working days d with date(a) < d <= date(b).

Walking wall-clock minutes equals walking real minutes only in a zone without clock changes; the zones
used in the tests (Europe/Moscow, Asia/Barnaul, Asia/Sakhalin) have had fixed offsets since 2016, and
``_local_index`` checks that.

Only the years the CSV covers are known; anything outside them raises, so a test never compares
against a guess. Moments must be whole minutes.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path

CSV_FILE = Path(__file__).resolve().parent.parent / "profiles" / "data" / "ru-special-days-2024-2027.csv"

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)

OFF, WORKING, SHORT = "off", "working", "short"


def read_special_days(path: Path = CSV_FILE) -> dict[date, str]:
    """date -> kind as written in the CSV: holiday, day_off, working or short."""
    with path.open(encoding="utf-8") as fh:
        return {date.fromisoformat(row["date"]): row["kind"] for row in csv.DictReader(fh)}


SPECIAL_DAYS = read_special_days()
YEARS = {d.year for d in SPECIAL_DAYS}


def day_kind(day: date) -> str:
    """off / working / short, from the CSV and the plain weekly rule."""
    if day.year not in YEARS:
        raise LookupError(f"the reference knows only {sorted(YEARS)}, not {day}")
    listed = SPECIAL_DAYS.get(day)
    if listed in ("holiday", "day_off"):
        return OFF
    if listed == "working":
        return WORKING
    if listed == "short":
        return SHORT
    if listed is not None:
        raise ValueError(f"unknown kind {listed!r} on {day}")
    return WORKING if day.weekday() < 5 else OFF


def _hhmm(text: str) -> int:
    h, m = text.split(":")
    return int(h) * 60 + int(m)


@dataclass(frozen=True)
class Hours:
    """Office hours as plain data.

    ``weekdays`` maps 0..4 (Monday..Friday) to "HH:MM-HH:MM" strings; a missing or empty entry means the
    office is closed that weekday. ``worked_weekend`` are the hours of a Saturday or Sunday the calendar
    makes a working day. ``lunch`` is removed from every day. A shortened day loses its last
    ``short_by_minutes`` minutes of working time (Labour Code art. 95: the day is one hour shorter).
    """

    weekdays: dict[int, tuple[str, ...]]
    worked_weekend: tuple[str, ...]
    lunch: tuple[str, ...] = ()
    short_by_minutes: int = 60

    def office_minutes(self, day: date, kind: str) -> tuple[int, ...]:
        """The counted minutes of the day (0 = 00:00-00:01), ascending."""
        if kind == OFF:
            return ()
        spans = self.weekdays.get(day.weekday(), ()) if day.weekday() < 5 else self.worked_weekend
        minutes: set[int] = set()
        for span in spans:
            start, end = span.split("-")
            minutes.update(range(_hhmm(start), _hhmm(end)))
        for span in self.lunch:
            start, end = span.split("-")
            minutes.difference_update(range(_hhmm(start), _hhmm(end)))
        ordered = sorted(minutes)
        if kind == SHORT:
            ordered = ordered[: max(0, len(ordered) - self.short_by_minutes)]
        return tuple(ordered)


@dataclass
class ReferenceClock:
    tz: tzinfo
    hours: Hours
    _cache: dict[tuple[int, bool], frozenset[int]] = field(default_factory=dict, repr=False)

    # --- minutes ---------------------------------------------------------------------------

    def counted_minutes(self, day: date, whole_days: bool) -> frozenset[int]:
        """The counted minutes of a local day (0 = 00:00-00:01)."""
        key = (day.toordinal(), whole_days)
        if key not in self._cache:
            kind = day_kind(day)
            if kind == OFF:
                minutes: frozenset[int] = frozenset()
            elif whole_days:
                minutes = frozenset(range(24 * 60))
            else:
                minutes = frozenset(self.hours.office_minutes(day, kind))
            self._cache[key] = minutes
        return self._cache[key]

    def counted(self, local: datetime, whole_days: bool) -> bool:
        """Is the local wall-clock minute starting at ``local`` (naive) counted?"""
        return self._counted(self._index(local), whole_days)

    # A local wall-clock minute is numbered by its day's ordinal * 1440 + its minute of the day, so a walk
    # is plain integer steps: minute i is counted when i % 1440 is among the counted minutes of day i // 1440.

    @staticmethod
    def _index(local: datetime) -> int:
        return local.toordinal() * 24 * 60 + local.hour * 60 + local.minute

    def _counted(self, i: int, whole_days: bool) -> bool:
        day, minute = divmod(i, 24 * 60)
        minutes = self._cache.get((day, whole_days))
        if minutes is None:
            minutes = self.counted_minutes(date.fromordinal(day), whole_days)
        return minute in minutes

    def _from_index(self, i: int) -> datetime:
        day, minute = divmod(i, 24 * 60)
        return datetime.combine(date.fromordinal(day), datetime.min.time(), self.tz) + minute * MINUTE

    def _local_index(self, moment: datetime) -> int:
        """The moment as a local wall-clock minute number, whole minutes only."""
        if moment.tzinfo is None:
            raise ValueError("naive datetime")
        local = moment.astimezone(self.tz)
        if local.second or local.microsecond:
            raise ValueError("the reference walks whole minutes only")
        if local.utcoffset() != (local + 30 * DAY).utcoffset():
            raise ValueError("the reference assumes a zone without clock changes")
        return self._index(local)

    @staticmethod
    def _minutes(amount: timedelta) -> int:
        if amount < timedelta(0) or amount % MINUTE:
            raise ValueError("the reference takes non-negative whole minutes")
        return amount // MINUTE

    # --- interval clocks -------------------------------------------------------------------

    def add(self, start: datetime, amount: timedelta, whole_days: bool) -> datetime:
        left = self._minutes(amount)
        i = self._local_index(start)
        while left:
            if self._counted(i, whole_days):
                left -= 1
            i += 1
        return self._from_index(i)

    def subtract(self, end: datetime, amount: timedelta, whole_days: bool) -> datetime:
        left = self._minutes(amount)
        i = self._local_index(end)
        while left:
            i -= 1
            if self._counted(i, whole_days):
                left -= 1
        return self._from_index(i)

    def between(self, a: datetime, b: datetime, whole_days: bool) -> timedelta:
        lo, hi = self._local_index(a), self._local_index(b)
        sign = 1
        if hi < lo:
            lo, hi, sign = hi, lo, -1
        count = sum(1 for i in range(lo, hi) if self._counted(i, whole_days))
        return sign * count * MINUTE

    # --- working days ----------------------------------------------------------------------

    def close(self, day: date) -> datetime:
        """When the office closes on a working day: right after its last counted minute."""
        minutes = self.counted_minutes(day, whole_days=False)
        last_end = max(minutes) + 1 if minutes else 24 * 60
        return self._from_index(day.toordinal() * 24 * 60 + last_end)

    def _local_date(self, moment: datetime) -> date:
        return date.fromordinal(self._local_index(moment) // (24 * 60))

    def add_days(self, start: datetime, n: int) -> datetime:
        if n < 0:
            raise ValueError("the reference adds non-negative working days")
        if n == 0:
            return start.astimezone(self.tz)
        day = self._local_date(start)
        found = 0
        while found < n:
            day += DAY
            if day_kind(day) != OFF:
                found += 1
        return self.close(day)

    def subtract_days(self, end: datetime, n: int) -> datetime:
        """The latest office close from which ``n`` working days end no later than ``end``."""
        if n < 0:
            raise ValueError("the reference subtracts non-negative working days")
        if n == 0:
            return end.astimezone(self.tz)
        day = self._local_date(end)
        while True:
            if day_kind(day) != OFF:
                candidate = self.close(day)
                if candidate <= end and self.add_days(candidate, n) <= end:
                    return candidate
            day -= DAY

    def between_days(self, a: datetime, b: datetime) -> int:
        da, db = self._local_date(a), self._local_date(b)
        sign = 1
        if b < a:
            da, db, sign = db, da, -1
        count = 0
        day = da + DAY
        while day <= db:
            if day_kind(day) != OFF:
                count += 1
            day += DAY
        return sign * count


# The hours of the izobilny profile, written out by hand.
IZOBILNY_HOURS = Hours(
    weekdays={i: ("09:00-18:00",) for i in range(5)},
    worked_weekend=("09:00-18:00",),
    lunch=("13:00-14:00",),
    short_by_minutes=60,
)
