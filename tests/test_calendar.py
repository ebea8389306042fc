"""The production calendar: the `holidays` package against the shipped CSV, overrides, the fallback."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import holidays
import pytest

import profiles.calendar as calendar_module
from profiles.calendar import DayKind, ProductionCalendar, shipped_calendar
from profiles.clocks import BusinessClock, Clock
from profiles.schema import CalendarSpec, OfficeHoursSpec
from tests.reference_clock import SPECIAL_DAYS

YEARS = range(2024, 2028)
ALL_DAYS = [date(2024, 1, 1) + timedelta(days=i) for i in range((date(2028, 1, 1) - date(2024, 1, 1)).days)]
RU = {year: holidays.country_holidays("RU", years=year) for year in YEARS}
CAL = ProductionCalendar()

# straight from the CSV, read independently of profiles.calendar
CSV_OFF = {d for d, k in SPECIAL_DAYS.items() if k in ("holiday", "day_off")}
CSV_SHORT = {d for d, k in SPECIAL_DAYS.items() if k == "short"}
CSV_WORKED_WEEKEND = {d for d, k in SPECIAL_DAYS.items() if k in ("working", "short") and d.weekday() >= 5}


def test_the_csv_covers_exactly_2024_to_2027_with_known_kinds():
    assert {d.year for d in SPECIAL_DAYS} == set(YEARS)
    assert set(SPECIAL_DAYS.values()) == {"holiday", "day_off", "working", "short"}
    assert shipped_calendar().years == frozenset(YEARS)
    # a "working" row is only ever a weekend day (weekdays are worked anyway)
    assert all(d.weekday() >= 5 for d, k in SPECIAL_DAYS.items() if k == "working")
    # the README example the clock tests rely on
    assert SPECIAL_DAYS[date(2025, 11, 1)] == "short" and date(2025, 11, 1).weekday() == 5


def test_holidays_package_non_working_days_equal_the_csv():
    """Non-working by `holidays` == CSV holiday/day_off plus every weekend day the CSV does not list."""
    non_working = {d for d in ALL_DAYS if not RU[d.year].is_working_day(d)}
    expected = CSV_OFF | {d for d in ALL_DAYS if d.weekday() >= 5 and d not in SPECIAL_DAYS}
    assert sorted(non_working - expected) == []
    assert sorted(expected - non_working) == []


def test_holidays_package_worked_weekends_equal_the_csv():
    worked_weekends = {d for d in ALL_DAYS if d.weekday() >= 5 and RU[d.year].is_working_day(d)}
    assert sorted(worked_weekends ^ CSV_WORKED_WEEKEND) == []
    assert date(2024, 4, 27) in worked_weekends  # working
    assert date(2027, 2, 20) in worked_weekends  # short


def _csv_kind(day: date) -> DayKind:
    kind = SPECIAL_DAYS.get(day)
    if kind in ("holiday", "day_off"):
        return DayKind.OFF
    if kind == "short":
        return DayKind.SHORT
    if kind == "working":
        return DayKind.WORKING
    return DayKind.WORKING if day.weekday() < 5 else DayKind.OFF


def test_production_calendar_matches_the_csv_every_day_of_2024_to_2027(caplog):
    caplog.set_level(logging.WARNING, logger=calendar_module.__name__)
    wrong = [(d, CAL.kind(d), _csv_kind(d)) for d in ALL_DAYS if CAL.kind(d) is not _csv_kind(d)]
    assert wrong == []
    assert all(CAL.covers(y) for y in YEARS)
    assert not [r for r in caplog.records if r.name == calendar_module.__name__]  # no fallback in covered years


def test_every_csv_short_day_is_short():
    assert CSV_SHORT
    for day in sorted(CSV_SHORT):
        assert CAL.kind(day) is DayKind.SHORT, day
        assert CAL.is_working(day)


def test_the_day_before_each_csv_holiday_is_short_or_off():
    """Labour Code art. 95 as the CSV applies it: a working day just before a holiday is shortened."""
    for day, kind in sorted(SPECIAL_DAYS.items()):
        before = day - timedelta(days=1)
        if kind == "holiday" and before.year in YEARS:
            assert CAL.kind(before) in (DayKind.SHORT, DayKind.OFF), before


# --- local overrides -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "day", "expected"),
    [
        ({"extra_days_off": [date(2025, 10, 15)]}, date(2025, 10, 15), DayKind.OFF),  # plain Wednesday
        ({"extra_days_off": [date(2025, 3, 7)]}, date(2025, 3, 7), DayKind.OFF),  # CSV short day
        ({"extra_days_off": [date(2024, 4, 27)]}, date(2024, 4, 27), DayKind.OFF),  # worked Saturday
        ({"extra_working_days": [date(2025, 10, 18)]}, date(2025, 10, 18), DayKind.WORKING),  # Saturday
        ({"extra_working_days": [date(2026, 1, 5)]}, date(2026, 1, 5), DayKind.WORKING),  # holiday
        ({"extra_working_days": [date(2025, 11, 1)]}, date(2025, 11, 1), DayKind.WORKING),  # CSV short
        ({"extra_short_days": [date(2025, 10, 16)]}, date(2025, 10, 16), DayKind.SHORT),  # plain Thursday
        ({"extra_short_days": [date(2025, 10, 19)]}, date(2025, 10, 19), DayKind.SHORT),  # Sunday
        # a shortened working day is a working day: both lists agree it is worked, and short wins
        (
            {"extra_working_days": [date(2025, 10, 18)], "extra_short_days": [date(2025, 10, 18)]},
            date(2025, 10, 18),
            DayKind.SHORT,
        ),
    ],
)
def test_local_overrides_win(override, day, expected):
    base = ProductionCalendar().kind(day)
    assert base is not expected  # the override changes something
    assert CalendarSpec(**override).build().kind(day) is expected
    assert ProductionCalendar.russian(
        override.get("extra_days_off", ()),
        override.get("extra_working_days", ()),
        override.get("extra_short_days", ()),
    ).kind(day) is expected
    assert ProductionCalendar().kind(day) is base  # the shared default calendar is untouched


def test_overrides_reach_the_clock():
    spec = OfficeHoursSpec(
        **{d: "09:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")},
        lunch="13:00-14:00",
        worked_weekend="10:00-15:00",
    )
    msk = ZoneInfo("Europe/Moscow")
    cal = CalendarSpec(
        extra_days_off=[date(2025, 10, 20)],  # Monday
        extra_working_days=[date(2025, 10, 18)],  # Saturday
        extra_short_days=[date(2025, 10, 21)],  # Tuesday
    )
    clock = BusinessClock(msk, spec.build(), cal.build())
    fri = datetime(2025, 10, 17, 17, tzinfo=msk)
    # Fri 17-18 (1 h), Sat 10-13 and 14-15 (4 h), Monday off, Tue 09:00 + 1 h
    assert clock.add(fri, 6 * timedelta(hours=1), Clock.WORKING) == datetime(2025, 10, 21, 10, tzinfo=msk)
    assert clock.add(fri, 1, Clock.WORKING_DAYS) == datetime(2025, 10, 18, 15, tzinfo=msk)
    assert clock.add(fri, 2, Clock.WORKING_DAYS) == datetime(2025, 10, 21, 17, tzinfo=msk)  # short Tuesday
    assert clock.between(fri, datetime(2025, 10, 21, 23, tzinfo=msk), Clock.WORKING_DAYS) == 2  # Sat, Tue


# --- outside the shipped years -------------------------------------------------------------------


@pytest.fixture
def fresh_fallback(monkeypatch):
    """Forget which years already warned and the cached day kinds, so warnings can be counted."""
    monkeypatch.setattr(calendar_module, "_warned_years", set())
    calendar_module._day_kind.cache_clear()
    yield
    calendar_module._day_kind.cache_clear()


def _fallback_warnings(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == calendar_module.__name__ and r.levelno == logging.WARNING]


@pytest.mark.usefixtures("fresh_fallback")
def test_a_year_outside_the_csv_falls_back_to_statutory_holidays(caplog):
    caplog.set_level(logging.WARNING, logger=calendar_module.__name__)
    cal = ProductionCalendar()
    assert not cal.covers(2029)
    statutory_off = [date(2029, 1, d) for d in (1, 2, 3, 4, 5, 8)] + [
        date(2029, 2, 23), date(2029, 3, 8), date(2029, 5, 1), date(2029, 5, 9), date(2029, 6, 12),
    ]
    for day in statutory_off:
        assert cal.kind(day) is DayKind.OFF, day
    # the working day before a holiday is shortened (art. 95)
    for day in (date(2029, 2, 22), date(2029, 3, 7), date(2029, 4, 30), date(2029, 5, 8), date(2029, 6, 11),
                date(2029, 12, 31)):
        assert cal.kind(day) is DayKind.SHORT, day
    # plain days
    assert cal.kind(date(2029, 1, 9)) is DayKind.WORKING
    assert cal.kind(date(2029, 3, 6)) is DayKind.WORKING
    assert cal.kind(date(2029, 3, 10)) is DayKind.OFF  # Saturday
    # a day before a weekend holiday is a Saturday: off, not short
    assert cal.kind(date(2029, 11, 3)) is DayKind.OFF

    warnings = _fallback_warnings(caplog)
    assert len(warnings) == 1
    assert "2029" in warnings[0].getMessage()


@pytest.mark.usefixtures("fresh_fallback")
def test_the_fallback_warning_is_logged_once_per_year(caplog):
    caplog.set_level(logging.WARNING, logger=calendar_module.__name__)
    day = date(2029, 1, 1)
    while day.year == 2029:
        ProductionCalendar().kind(day)
        ProductionCalendar.russian(days_off=[date(2029, 7, 1)]).kind(day)  # another calendar, same year
        day += timedelta(days=1)
    messages = [r.getMessage() for r in _fallback_warnings(caplog)]
    assert len(messages) == 1 and "2029" in messages[0]
    # a second uncovered year warns once more, the covered ones never
    for d in (date(2030, 3, 7), date(2030, 5, 4), date(2026, 5, 8), date(2027, 12, 31)):
        ProductionCalendar().kind(d)
    messages = [r.getMessage() for r in _fallback_warnings(caplog)]
    assert len(messages) == 2
    assert "2029" in messages[0] and "2030" in messages[1]
    # a clock walking through an uncovered year warns through the same path, still once per year
    msk = ZoneInfo("Europe/Moscow")
    hours = OfficeHoursSpec(**{d: "09:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")},
                            worked_weekend="09:00-18:00").build()
    clock = BusinessClock(msk, hours, ProductionCalendar())
    clock.add(datetime(2029, 12, 28, 17, tzinfo=msk), timedelta(hours=30), Clock.WORKING)
    assert len(_fallback_warnings(caplog)) == 2


@pytest.mark.usefixtures("fresh_fallback")
def test_overrides_also_win_in_a_fallback_year():
    cal = ProductionCalendar.russian(
        days_off=[date(2029, 4, 30)], working_days=[date(2029, 1, 8)], short_days=[date(2029, 3, 6)]
    )
    assert cal.kind(date(2029, 4, 30)) is DayKind.OFF
    assert cal.kind(date(2029, 1, 8)) is DayKind.WORKING
    assert cal.kind(date(2029, 3, 6)) is DayKind.SHORT


# --- the clock refuses naive moments -------------------------------------------------------------


@pytest.mark.parametrize("which", list(Clock))
def test_naive_datetimes_are_refused(which):
    msk = ZoneInfo("Europe/Moscow")
    hours = OfficeHoursSpec(**{d: "09:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")},
                            worked_weekend="09:00-18:00").build()
    clock = BusinessClock(msk, hours, ProductionCalendar())
    naive = datetime(2025, 10, 14, 10)  # noqa: DTZ001
    aware = datetime(2025, 10, 14, 10, tzinfo=UTC)
    amount = 1 if which is Clock.WORKING_DAYS else timedelta(hours=1)
    with pytest.raises(ValueError, match="naive"):
        clock.add(naive, amount, which)
    with pytest.raises(ValueError, match="naive"):
        clock.subtract(naive, amount, which)
    with pytest.raises(ValueError, match="naive"):
        clock.between(naive, aware, which)
    with pytest.raises(ValueError, match="naive"):
        clock.between(aware, naive, which)
    # a tzinfo that gives no offset is as good as none
    no_offset = datetime(2025, 10, 14, 10, tzinfo=_NoOffset())
    with pytest.raises(ValueError, match="naive"):
        clock.add(no_offset, amount, which)


class _NoOffset(tzinfo):
    def utcoffset(self, dt):
        return None

    def dst(self, dt):
        return None

    def tzname(self, dt):
        return None
