"""The Russian production calendar: which days are worked, and which are one hour shorter.

Non-working days and worked weekends come from the `holidays` package (>= 0.108 matches the
official calendars for 2024-2027). It has no shortened pre-holiday days, so those come from
`data/ru-special-days-2024-2027.csv`, shipped with the project. Outside the years that file covers
the calendar falls back to the statutory rules (holidays of art. 112, a working day before a holiday
is shortened, art. 95) and logs a warning once per year, so nobody trusts a guess silently.

A profile may add local extra days off, working days and shortened days on top.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path

import holidays

log = logging.getLogger(__name__)

DATA_FILE = Path(__file__).parent / "data" / "ru-special-days-2024-2027.csv"


class DayKind(StrEnum):
    WORKING = "working"  # a full working day
    SHORT = "short"  # a working day one hour shorter
    OFF = "off"  # weekend, holiday or transferred day off


@dataclass(frozen=True)
class ShippedCalendar:
    """The official calendar as shipped: special days and the years it covers."""

    years: frozenset[int]
    short_days: frozenset[date]
    off_days: frozenset[date]
    working_days: frozenset[date]  # worked Saturdays/Sundays


@cache
def shipped_calendar(path: Path = DATA_FILE) -> ShippedCalendar:
    short: set[date] = set()
    off: set[date] = set()
    working: set[date] = set()
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            day = date.fromisoformat(row["date"])
            kind = row["kind"]
            if kind == "short":
                short.add(day)
            elif kind in ("holiday", "day_off"):
                off.add(day)
            elif kind == "working":
                working.add(day)
            else:
                raise ValueError(f"{path}: unknown kind {kind!r} on {day}")
    years = frozenset(d.year for d in short | off | working)
    return ShippedCalendar(years, frozenset(short), frozenset(off), frozenset(working))


@cache
def _ru_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("RU", years=year)


_warned_years: set[int] = set()


def _warn_fallback(year: int) -> None:
    if year not in _warned_years:
        _warned_years.add(year)
        log.warning(
            "production calendar for %s is not shipped: using statutory holidays only "
            "(transfers of days off may be missing); add the year's decree to the profile's calendar",
            year,
        )


@dataclass(frozen=True)
class ProductionCalendar:
    """Day kinds for one profile: the Russian calendar plus the profile's local overrides."""

    extra_days_off: frozenset[date] = field(default_factory=frozenset)
    extra_working_days: frozenset[date] = field(default_factory=frozenset)
    extra_short_days: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def russian(
        cls,
        days_off: Iterable[date] = (),
        working_days: Iterable[date] = (),
        short_days: Iterable[date] = (),
    ) -> ProductionCalendar:
        return cls(frozenset(days_off), frozenset(working_days), frozenset(short_days))

    def kind(self, day: date) -> DayKind:
        return _day_kind(self, day)

    def is_working(self, day: date) -> bool:
        return self.kind(day) is not DayKind.OFF

    def covers(self, year: int) -> bool:
        """True when the shipped official calendar has this year (no statutory guess)."""
        return year in shipped_calendar().years


def _statutory_non_working(day: date) -> bool:
    ru = _ru_holidays(day.year)
    return not ru.is_working_day(day)


@cache
def _day_kind(cal: ProductionCalendar, day: date) -> DayKind:
    if day in cal.extra_days_off:
        return DayKind.OFF
    if day in cal.extra_short_days:
        return DayKind.SHORT
    if day in cal.extra_working_days:
        return DayKind.WORKING
    shipped = shipped_calendar()
    if day.year not in shipped.years:
        _warn_fallback(day.year)
        if _statutory_non_working(day):
            return DayKind.OFF
        # Labour Code art. 95: the working day before a non-working holiday is one hour shorter.
        nxt = day + timedelta(days=1)
        if nxt in _ru_holidays(nxt.year) and _statutory_non_working(nxt):
            return DayKind.SHORT
        return DayKind.WORKING
    if _statutory_non_working(day):
        return DayKind.OFF
    if day in shipped.short_days:
        return DayKind.SHORT
    return DayKind.WORKING
