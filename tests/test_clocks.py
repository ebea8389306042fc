"""The business clocks: hand-worked cases, algebraic properties, and agreement with a naive reference.

Conventions under test (profiles/clocks.py): ``add(t, d)`` is the earliest moment by which d of counted
time has passed since t; ``subtract(u, d)`` the latest moment from which d passes until u; ``between``
is the counted time in [a, b], negative when reversed; working_days ends at the office close of the
N-th working day after the local date of the event and ``between`` counts working days d with
date(a) < d <= date(b).

Expected local times in the named cases were worked out by hand from the official calendar:
2025-11-01 is a worked Saturday shortened by an hour; 2025-11-03 is a day off, 2025-11-04 a holiday;
2025-12-31 and 2026-01-01..09 are days off, 2026-01-12 is the first working day of 2026;
2026-03-08 (Sunday) is a holiday and 2026-03-09 a day off; 2025-03-07 is a shortened Friday before
the 8 March holiday; 2024-12-28 is a worked (full) Saturday and 2024-12-30/31 are days off.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from profiles.clocks import BusinessClock, Clock, Period
from profiles.loader import load_profile, profile_files
from profiles.schema import CalendarSpec, OfficeHoursSpec
from tests.reference_clock import IZOBILNY_HOURS, Hours, ReferenceClock

MSK = ZoneInfo("Europe/Moscow")  # UTC+3
BARNAUL = ZoneInfo("Asia/Barnaul")  # UTC+7
SAKHALIN = ZoneInfo("Asia/Sakhalin")  # UTC+11 (Yuzhno-Sakhalinsk)
ZONES = (MSK, BARNAUL, SAKHALIN)

H = timedelta(hours=1)
M = timedelta(minutes=1)
ZERO = timedelta(0)

W = Clock.WORKING
WD = Clock.WORKING_DAYS
CW = Clock.CALENDAR_WORKING
CAL = Clock.CALENDAR
INTERVAL_CLOCKS = (W, CW)

WEEK = {d: "09:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")}
IZOBILNY_SPEC = OfficeHoursSpec(**WEEK, lunch="13:00-14:00", worked_weekend="09:00-18:00", short_day_by="1h")


def make_clock(tz: ZoneInfo, spec: OfficeHoursSpec = IZOBILNY_SPEC, calendar: CalendarSpec | None = None):
    return BusinessClock(tz, spec.build(), (calendar or CalendarSpec()).build())


ROUND_THE_CLOCK = OfficeHoursSpec(**{d: "00:00-24:00" for d in WEEK}, worked_weekend="00:00-24:00")

CLOCKS = {tz.key: make_clock(tz) for tz in ZONES}
# for the working_days properties also offices that close at 24:00 (the close is the next day's 00:00)
DAY_CLOCKS = {tz.key: (CLOCKS[tz.key], make_clock(tz, ROUND_THE_CLOCK)) for tz in ZONES}
REFERENCES = {tz.key: ReferenceClock(tz, IZOBILNY_HOURS) for tz in ZONES}
MOSCOW = CLOCKS["Europe/Moscow"]


def at(tz: ZoneInfo, y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=tz)


def msk(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return at(MSK, y, mo, d, h, mi)


def local_str(clock: BusinessClock, moment: datetime) -> str:
    return clock.local(moment).strftime("%Y-%m-%d %H:%M %a")


def assert_local(clock: BusinessClock, got: datetime, expected: datetime) -> None:
    """Same instant, and handed back in the clock's own zone."""
    assert got == expected, f"got {local_str(clock, got)}, expected {local_str(clock, expected)}"
    assert got.utcoffset() == expected.astimezone(clock.tz).utcoffset()


# ================================================================================================
# Named cases
# ================================================================================================


def test_profile_clock_is_moscow_with_the_hand_written_hours():
    clock = load_profile("izobilny").clock
    assert clock.tz == MSK
    for day in (date(2025, 10, 14), date(2025, 11, 1), date(2025, 3, 7), date(2024, 12, 28), date(2026, 1, 5)):
        assert clock.working_periods(day) == MOSCOW.working_periods(day), day


def test_friday_afternoon_plus_8_working_hours_lands_on_the_short_worked_saturday():
    # Fri 15:00-18:00 = 3 h; Sat 2025-11-01 is worked but shortened: 09-13 (4 h), 14-17; 1 h more -> 15:00.
    clock = load_profile("izobilny").clock
    start = msk(2025, 10, 31, 15)
    assert clock.working_periods(date(2025, 11, 1)) == (
        Period(time(9), time(13)),
        Period(time(14), time(17)),
    )
    assert_local(clock, clock.add(start, 8 * H, W), msk(2025, 11, 1, 15))
    assert clock.between(start, msk(2025, 11, 1, 15), W) == 8 * H
    assert_local(clock, clock.subtract(msk(2025, 11, 1, 15), 8 * H, W), start)
    # 10 h end exactly at the short Saturday's close; the 11th hour skips Sunday, Mon 11-03 (day off)
    # and Tue 11-04 (holiday).
    assert_local(clock, clock.add(start, 10 * H, W), msk(2025, 11, 1, 17))
    assert_local(clock, clock.add(start, 11 * H, W), msk(2025, 11, 5, 10))
    # working days: the short Saturday closes at 17:00.
    assert_local(clock, clock.add(msk(2025, 10, 31, 10), 1, WD), msk(2025, 11, 1, 17))
    assert_local(clock, clock.add(msk(2025, 10, 31, 10), 2, WD), msk(2025, 11, 5, 18))


@pytest.mark.parametrize(
    ("start", "clock", "amount", "expected"),
    [
        # 2025-12-31 (Wednesday) is a transferred day off; next working day is Mon 2026-01-12.
        (msk(2025, 12, 31, 10), CAL, 8 * H, msk(2025, 12, 31, 18)),
        (msk(2025, 12, 31, 10), W, H, msk(2026, 1, 12, 10)),
        (msk(2025, 12, 31, 10), W, 8 * H, msk(2026, 1, 12, 18)),
        (msk(2025, 12, 31, 10), W, 9 * H, msk(2026, 1, 13, 10)),
        (msk(2025, 12, 31, 10), WD, 1, msk(2026, 1, 12, 18)),
        (msk(2025, 12, 31, 10), WD, 2, msk(2026, 1, 13, 18)),
        (msk(2025, 12, 31, 10), CW, H, msk(2026, 1, 12, 1)),
        (msk(2025, 12, 31, 10), CW, 24 * H, msk(2026, 1, 13, 0)),
        # 2026-01-09 (Friday) is a transferred day off.
        (msk(2026, 1, 9, 10), CAL, 24 * H, msk(2026, 1, 10, 10)),
        (msk(2026, 1, 9, 10), W, H, msk(2026, 1, 12, 10)),
        (msk(2026, 1, 9, 10), WD, 1, msk(2026, 1, 12, 18)),
        (msk(2026, 1, 9, 10), WD, timedelta(days=1), msk(2026, 1, 12, 18)),
        (msk(2026, 1, 9, 10), CW, 30 * M, msk(2026, 1, 12, 0, 30)),
    ],
    ids=lambda v: v.strftime("%m-%d %H:%M") if isinstance(v, datetime) else str(v),
)
def test_start_on_a_day_off(start, clock, amount, expected):
    assert_local(MOSCOW, MOSCOW.add(start, amount, clock), expected)


@pytest.mark.parametrize(
    ("end", "clock", "amount", "expected"),
    [
        # the last working day before 2026-01-09 is Tue 2025-12-30, a full day
        (msk(2026, 1, 9, 10), W, H, msk(2025, 12, 30, 17)),
        (msk(2026, 1, 9, 10), CW, H, msk(2025, 12, 30, 23)),
        # latest office close from which 1 working day ends by then: Mon 2025-12-29 18:00 (-> Tue 18:00)
        (msk(2026, 1, 9, 10), WD, 1, msk(2025, 12, 29, 18)),
        (msk(2025, 12, 31, 10), W, 9 * H, msk(2025, 12, 29, 17)),
        (msk(2025, 12, 31, 10), CAL, 10 * H, msk(2025, 12, 31, 0)),
    ],
    ids=lambda v: v.strftime("%m-%d %H:%M") if isinstance(v, datetime) else str(v),
)
def test_subtract_from_a_day_off(end, clock, amount, expected):
    assert_local(MOSCOW, MOSCOW.subtract(end, amount, clock), expected)


def test_between_across_the_new_year_break():
    a, b = msk(2025, 12, 31, 10), msk(2026, 1, 12, 12)
    assert MOSCOW.between(a, b, W) == 3 * H
    assert MOSCOW.between(a, b, CW) == 12 * H
    assert MOSCOW.between(a, b, WD) == 1
    assert MOSCOW.between(a, b, CAL) == 12 * 24 * H + 2 * H
    for clock in Clock:
        assert MOSCOW.between(b, a, clock) == -MOSCOW.between(a, b, clock)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ((12, 30), (14, 30)),  # half an hour before lunch, half an hour after
        ((13, 0), (15, 0)),  # from the start of lunch
        ((13, 30), (15, 0)),  # from inside lunch
        ((12, 0), (13, 0)),  # exactly to the end of a period: 13:00, not 14:00
        ((17, 0), (18, 0)),  # exactly to closing time
        ((8, 0), (10, 0)),  # before opening
    ],
)
def test_one_working_hour_on_a_plain_tuesday(start, expected):
    t = msk(2025, 10, 14, *start)
    assert_local(MOSCOW, MOSCOW.add(t, H, W), msk(2025, 10, 14, *expected))


def test_friday_evening_goes_to_monday():
    assert_local(MOSCOW, MOSCOW.add(msk(2025, 10, 17, 18, 30), H, W), msk(2025, 10, 20, 10))
    assert_local(MOSCOW, MOSCOW.add(msk(2025, 10, 17, 17, 30), H, W), msk(2025, 10, 20, 9, 30))
    assert_local(MOSCOW, MOSCOW.add(msk(2025, 10, 17, 18, 0), H, W), msk(2025, 10, 20, 10))
    # calendar_working: the hour up to midnight ends Friday at 24:00, not Monday 00:00
    assert_local(MOSCOW, MOSCOW.add(msk(2025, 10, 17, 23), H, CW), msk(2025, 10, 18, 0))
    assert_local(MOSCOW, MOSCOW.add(msk(2025, 10, 17, 23), 2 * H, CW), msk(2025, 10, 20, 1))


@pytest.mark.parametrize(
    ("end", "expected"),
    [
        (msk(2025, 10, 14, 15), msk(2025, 10, 14, 14)),
        (msk(2025, 10, 14, 14), msk(2025, 10, 14, 12)),  # the latest start: 12:00, lunch not counted
        (msk(2025, 10, 14, 13, 30), msk(2025, 10, 14, 12)),
        (msk(2025, 10, 14, 14, 30), msk(2025, 10, 14, 12, 30)),
        (msk(2025, 10, 14, 10), msk(2025, 10, 14, 9)),  # latest start is 09:00, not Monday 18:00
        (msk(2025, 10, 20, 9), msk(2025, 10, 17, 17)),  # Monday opening -> Friday 17:00
        (msk(2025, 10, 20, 9, 30), msk(2025, 10, 17, 17, 30)),
    ],
)
def test_subtract_one_working_hour(end, expected):
    assert_local(MOSCOW, MOSCOW.subtract(end, H, W), expected)
    assert MOSCOW.between(expected, end, W) == H


def test_round_trips_on_hand_worked_moments():
    # subtract(add(t, d), d) is the latest start, so it is >= t: from lunch, 13:30 -> 15:00 -> 14:00
    t = msk(2025, 10, 14, 13, 30)
    assert_local(MOSCOW, MOSCOW.add(t, H, W), msk(2025, 10, 14, 15))
    assert_local(MOSCOW, MOSCOW.subtract(MOSCOW.add(t, H, W), H, W), msk(2025, 10, 14, 14))
    # add(t, between(t, u)) returns u only when the minute before u is counted: a period start such as
    # Monday 09:00 is counted itself, yet the time measured to it is used up by Friday 18:00
    fri, mon = msk(2025, 10, 17, 17), msk(2025, 10, 20, 9)
    assert MOSCOW.is_counted(mon, W)
    assert MOSCOW.between(fri, mon, W) == H
    assert_local(MOSCOW, MOSCOW.add(fri, MOSCOW.between(fri, mon, W), W), msk(2025, 10, 17, 18))
    # ... while the end of a period comes back exactly
    noon = msk(2025, 10, 20, 13)
    assert_local(MOSCOW, MOSCOW.add(fri, MOSCOW.between(fri, noon, W), W), noon)


@pytest.mark.parametrize("clock", list(Clock))
@pytest.mark.parametrize(
    "t",
    [
        msk(2025, 10, 14, 10),  # inside office hours
        msk(2025, 10, 14, 13, 30),  # lunch
        msk(2025, 10, 18, 3),  # Saturday night
        msk(2026, 1, 1, 12),  # holiday
        msk(2025, 10, 14, 18),  # closing time
        datetime(2025, 10, 14, 22, tzinfo=UTC),  # given in another zone
    ],
)
def test_zero_duration(t, clock):
    zero = 0 if clock is WD else ZERO
    assert MOSCOW.add(t, zero, clock) == t
    assert MOSCOW.subtract(t, zero, clock) == t
    assert MOSCOW.between(t, t, clock) == zero
    assert MOSCOW.add(t, zero, clock).tzinfo == MSK


# --- zones where the UTC date is not the local date -------------------------------------------


def test_sakhalin_morning_is_the_previous_day_in_utc():
    clock = CLOCKS["Asia/Sakhalin"]
    t = datetime(2025, 10, 19, 21, 30, tzinfo=UTC)  # Sunday in UTC, Monday 08:30 in Yuzhno-Sakhalinsk
    assert clock.local(t) == at(SAKHALIN, 2025, 10, 20, 8, 30)
    assert_local(clock, clock.add(t, H, W), at(SAKHALIN, 2025, 10, 20, 10))
    assert_local(clock, clock.add(t, H, CW), at(SAKHALIN, 2025, 10, 20, 9, 30))
    # counted from the local date (Monday), so the first working day is Tuesday, not Monday
    assert_local(clock, clock.add(t, 1, WD), at(SAKHALIN, 2025, 10, 21, 18))
    assert clock.between(t, at(SAKHALIN, 2025, 10, 21, 18), WD) == 1
    # Monday 00:30 local is Sunday 13:30 UTC: counted on the calendar_working clock
    t2 = datetime(2025, 10, 19, 13, 30, tzinfo=UTC)
    assert clock.is_counted(t2, CW)
    assert_local(clock, clock.add(t2, H, CW), at(SAKHALIN, 2025, 10, 20, 1, 30))
    assert clock.between(at(SAKHALIN, 2025, 10, 19, 23), t2 + H, CW) == 90 * M
    # Friday 17:30 local + 1 h -> the short worked Saturday 2025-11-01 09:30 local
    assert_local(clock, clock.add(at(SAKHALIN, 2025, 10, 31, 17, 30), H, W), at(SAKHALIN, 2025, 11, 1, 9, 30))


def test_barnaul_early_morning_after_a_holiday():
    clock = CLOCKS["Asia/Barnaul"]
    t = datetime(2025, 11, 4, 22, tzinfo=UTC)  # Tue 2025-11-04 (holiday) in UTC, Wed 05:00 in Barnaul
    assert clock.local(t) == at(BARNAUL, 2025, 11, 5, 5)
    assert clock.is_counted(t, CW)
    assert_local(clock, clock.add(t, H, CW), at(BARNAUL, 2025, 11, 5, 6))
    assert_local(clock, clock.add(t, H, W), at(BARNAUL, 2025, 11, 5, 10))
    # back over the holiday, the day off and Sunday to the (short, worked) Saturday 2025-11-01
    assert_local(clock, clock.subtract(at(BARNAUL, 2025, 11, 5, 1), 2 * H, CW), at(BARNAUL, 2025, 11, 1, 23))
    assert_local(clock, clock.subtract(at(BARNAUL, 2025, 11, 5, 10), 2 * H, W), at(BARNAUL, 2025, 11, 1, 16))
    # Friday 05:00 local is Thursday in UTC: one working day is the short Saturday, closing at 17:00
    t2 = datetime(2025, 10, 30, 22, tzinfo=UTC)
    assert_local(clock, clock.add(t2, 1, WD), at(BARNAUL, 2025, 11, 1, 17))
    # Mon 2026-01-12 03:00 local is Sunday in UTC: one working day after the transferred Friday off
    assert clock.between(at(BARNAUL, 2026, 1, 9, 10), datetime(2026, 1, 11, 20, tzinfo=UTC), WD) == 1
    assert clock.between(at(BARNAUL, 2026, 1, 9, 10), datetime(2026, 1, 11, 16, tzinfo=UTC), WD) == 0


def test_moscow_after_midnight_is_the_previous_day_in_utc():
    t = datetime(2025, 10, 19, 22, 30, tzinfo=UTC)  # Sunday in UTC, Monday 01:30 in Moscow
    assert_local(MOSCOW, MOSCOW.add(t, H, CW), msk(2025, 10, 20, 2, 30))
    assert_local(MOSCOW, MOSCOW.add(t, 1, WD), msk(2025, 10, 21, 18))


# --- calendar_working ---------------------------------------------------------------------------


def test_calendar_working_across_a_weekend_and_the_8_march_holiday_in_sakhalin():
    clock = CLOCKS["Asia/Sakhalin"]
    fri = at(SAKHALIN, 2026, 3, 6, 20)
    # Fri 20-24 = 4 h; Sat 7, Sun 8 (holiday), Mon 9 (day off) not counted; Tue 10 00:00-20:00 = 20 h
    assert_local(clock, clock.add(fri, 24 * H, CW), at(SAKHALIN, 2026, 3, 10, 20))
    assert clock.between(fri, at(SAKHALIN, 2026, 3, 10, 20), CW) == 24 * H
    assert_local(clock, clock.subtract(at(SAKHALIN, 2026, 3, 10, 20), 24 * H, CW), fri)
    assert_local(clock, clock.add(fri, 4 * H, CW), at(SAKHALIN, 2026, 3, 7, 0))
    # working clock over the same break: Fri 17-18, then Tue 09-10
    assert_local(clock, clock.add(at(SAKHALIN, 2026, 3, 6, 17), 2 * H, W), at(SAKHALIN, 2026, 3, 10, 10))
    # 23 February 2026 is a Monday holiday
    assert_local(clock, clock.add(at(SAKHALIN, 2026, 2, 20, 12), 24 * H, CW), at(SAKHALIN, 2026, 2, 24, 12))


def test_yuzhno_sakhalinsk_clause_3_3_publish_timer():
    """24 hours on working days only (weekends and holidays not counted), in local Sakhalin time."""
    if "yuzhno_sakhalinsk" not in profile_files():
        pytest.skip("the Yuzhno-Sakhalinsk profile is not present")
    profile = load_profile("yuzhno_sakhalinsk")
    timer = next(t for t in profile.timers if t.id == "publish")
    assert (timer.clock, timer.duration) == (CW, 24 * H)
    clock = profile.clock
    assert clock.tz == SAKHALIN
    fri = at(SAKHALIN, 2026, 3, 6, 20)
    assert_local(clock, clock.add(fri, timer.duration, timer.clock), at(SAKHALIN, 2026, 3, 10, 20))
    # the profile's own example: Fri 2025-10-31 after 17:00 -> ends on the short worked Saturday with
    # fewer than 8 working hours inside (Fri 17:30-18:00 and Sat 09-13, 14-17 = 7.5 h)
    fri = at(SAKHALIN, 2025, 10, 31, 17, 30)
    end = clock.add(fri, timer.duration, timer.clock)
    assert_local(clock, end, at(SAKHALIN, 2025, 11, 1, 17, 30))
    assert clock.between(fri, end, W) == 7 * H + 30 * M


# --- working_days -------------------------------------------------------------------------------


def test_working_days_across_the_new_year_holidays():
    mon = msk(2025, 12, 29, 10)
    # Tue 12-30 (1), Wed 12-31 off, 01-01..01-11 off, Mon 01-12 (2), Tue 01-13 (3)
    assert_local(MOSCOW, MOSCOW.add(mon, 1, WD), msk(2025, 12, 30, 18))
    assert_local(MOSCOW, MOSCOW.add(mon, 2, WD), msk(2026, 1, 12, 18))
    assert_local(MOSCOW, MOSCOW.add(mon, 3, WD), msk(2026, 1, 13, 18))
    assert MOSCOW.between(mon, msk(2026, 1, 13, 18), WD) == 3
    assert MOSCOW.between(mon, msk(2026, 1, 13, 8), WD) == 3  # dates only
    assert MOSCOW.between(msk(2026, 1, 13, 18), mon, WD) == -3
    assert_local(MOSCOW, MOSCOW.subtract(msk(2026, 1, 13, 18), 3, WD), msk(2025, 12, 29, 18))
    # before the close of 01-13 the last complete working day is 01-12
    assert_local(MOSCOW, MOSCOW.subtract(msk(2026, 1, 13, 12), 1, WD), msk(2025, 12, 30, 18))
    # 2024: Sat 12-28 is a full worked Saturday; 12-30, 12-31 are days off; 2025-01-09 is next
    fri = msk(2024, 12, 27, 15)
    assert_local(MOSCOW, MOSCOW.add(fri, 1, WD), msk(2024, 12, 28, 18))
    assert_local(MOSCOW, MOSCOW.add(fri, 2, WD), msk(2025, 1, 9, 18))
    assert_local(MOSCOW, MOSCOW.add(fri, timedelta(days=2), WD), msk(2025, 1, 9, 18))
    assert_local(MOSCOW, MOSCOW.add(msk(2025, 1, 9, 18), -2, WD), msk(2024, 12, 27, 18))


def test_working_days_refuse_fractions_and_interval_clocks_refuse_day_counts():
    with pytest.raises(TypeError):
        MOSCOW.add(msk(2025, 10, 14, 10), timedelta(hours=36), WD)
    for clock in (W, CW, CAL):
        with pytest.raises(TypeError):
            MOSCOW.add(msk(2025, 10, 14, 10), 3, clock)


# --- shortened days -----------------------------------------------------------------------------

SHORT_FRIDAY = date(2025, 3, 7)  # before the 8 March holiday (Saturday)
PLAIN_FRIDAY = date(2025, 2, 28)


def _friday_spec(fri: str | list[str], lunch: str = "13:00-14:00") -> OfficeHoursSpec:
    week = {d: "09:00-18:00" for d in ("mon", "tue", "wed", "thu")}
    return OfficeHoursSpec(**week, fri=fri, lunch=lunch, worked_weekend="09:00-18:00", short_day_by="1h")


def _p(a: str, b: str) -> Period:
    return Period(time.fromisoformat(a), time.fromisoformat(b))


@pytest.mark.parametrize(
    ("fri", "lunch", "plain", "short"),
    [
        # the cut stays after lunch
        (["09:00-13:30", "14:00-18:00"], "", [("09:00", "13:30"), ("14:00", "18:00")],
         [("09:00", "13:30"), ("14:00", "17:00")]),
        ("09:00-16:45", "13:00-14:00", [("09:00", "13:00"), ("14:00", "16:45")],
         [("09:00", "13:00"), ("14:00", "15:45")]),
        # the after-lunch period is exactly one hour: it disappears, the day ends at lunch
        ("09:00-15:00", "13:00-14:00", [("09:00", "13:00"), ("14:00", "15:00")], [("09:00", "13:00")]),
        # the cut crosses lunch: 30 min after it and 30 min before it (one hour of working time)
        ("09:00-14:30", "13:00-14:00", [("09:00", "13:00"), ("14:00", "14:30")], [("09:00", "12:30")]),
    ],
)
def test_shortened_day_loses_one_hour_of_working_time(fri, lunch, plain, short):
    clock = make_clock(MSK, _friday_spec(fri, lunch))
    assert clock.working_periods(PLAIN_FRIDAY) == tuple(_p(a, b) for a, b in plain)
    assert clock.working_periods(SHORT_FRIDAY) == tuple(_p(a, b) for a, b in short)
    whole = (msk(2025, 2, 28), msk(2025, 3, 1))
    short_day = (msk(2025, 3, 7), msk(2025, 3, 8))
    assert clock.between(*whole, W) - clock.between(*short_day, W) == H
    # one working day from Thursday ends at the close of the short Friday
    last_end = short[-1][1]
    h, m = map(int, last_end.split(":"))
    assert_local(clock, clock.add(msk(2025, 3, 6, 10), 1, WD), msk(2025, 3, 7, h, m))


def test_short_day_cut_across_lunch_in_arithmetic():
    clock = make_clock(MSK, _friday_spec("09:00-14:30"))
    # 12:00-12:30 on the short Friday, then Sat 8 March (holiday), Sunday, Monday 09:00-09:30
    assert_local(clock, clock.add(msk(2025, 3, 7, 12), H, W), msk(2025, 3, 10, 9, 30))
    assert not clock.is_counted(msk(2025, 3, 7, 12, 45), W)
    assert not clock.is_counted(msk(2025, 3, 7, 14, 15), W)
    assert clock.is_counted(msk(2025, 2, 28, 14, 15), W)
    assert_local(clock, clock.subtract(msk(2025, 3, 10, 9, 30), H, W), msk(2025, 3, 7, 12))


# ================================================================================================
# Properties
# ================================================================================================

FIRST = date(2024, 1, 1)
LAST = date(2027, 12, 31)
# minutes of the day around the office boundaries (08:59, 09:00, 09:01, 12:59, ... 23:59)
BOUNDARIES = sorted({m + e for m in (0, 540, 780, 840, 1020, 1080, 1440) for e in (-1, 0, 1)} - {-1, 1440, 1441})

PROPS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def moments(draw, first: date = FIRST, last: date = LAST, zone: str | None = None):
    """(zone key, moment): a whole minute in one of the zones, handed over in UTC half of the time."""
    key = zone or draw(st.sampled_from([tz.key for tz in ZONES]))
    day = draw(st.dates(first, last))
    minute = draw(st.one_of(st.integers(0, 24 * 60 - 1), st.sampled_from(BOUNDARIES)))
    t = datetime.combine(day, time(minute // 60, minute % 60), ZoneInfo(key))
    if draw(st.booleans()):
        t = t.astimezone(UTC)
    return key, t


def more_moments(key: str, first: date = FIRST, last: date = LAST):
    return moments(first, last, zone=key).map(lambda kt: kt[1])


durations = st.one_of(
    st.integers(0, 40 * 60).map(lambda m: m * M),
    st.integers(0, 40).map(lambda h: h * H),
)
day_counts = st.integers(0, 12)
interval_clocks = st.sampled_from(INTERVAL_CLOCKS)


offices = st.sampled_from([0, 1])  # index into DAY_CLOCKS: office hours closing at 18:00 or at 24:00


def counted_just_before(clock: BusinessClock, u: datetime, which: Clock) -> bool:
    return clock.is_counted(u - M, which)


def is_a_close(clock: BusinessClock, u: datetime) -> bool:
    """u is when the office closes on a working day: the end of that day's last period (24:00 being
    the next day's 00:00)."""
    day = clock.local(u - M).date()
    periods = clock.working_periods(day)
    if not (clock.calendar.is_working(day) and periods):
        return False
    end = periods[-1].end
    close = datetime.combine(day + timedelta(days=1), time(0), clock.tz) if end == time.max else (
        datetime.combine(day, end, clock.tz))
    return u == close


@PROPS
@given(moments(), durations, durations, interval_clocks)
def test_add_is_associative(kt, a, b, which):
    key, t = kt
    c = CLOCKS[key]
    assert c.add(c.add(t, a, which), b, which) == c.add(t, a + b, which)


@PROPS
@given(moments(), day_counts, day_counts, offices)
def test_add_working_days_is_associative(kt, m, n, office):
    key, t = kt
    c = DAY_CLOCKS[key][office]
    assert c.add(c.add(t, m, WD), n, WD) == c.add(t, m + n, WD)


@PROPS
@given(moments(), durations, interval_clocks)
def test_between_measures_what_add_adds(kt, d, which):
    key, t = kt
    c = CLOCKS[key]
    u = c.add(t, d, which)
    assert u >= t
    assert c.between(t, u, which) == d
    assert c.between(u, t, which) == -d
    assert c.add(t, -d, which) == c.subtract(t, d, which)
    assert u.tzinfo == c.tz


@PROPS
@given(moments(), day_counts, offices)
def test_between_counts_the_days_add_adds(kt, n, office):
    key, t = kt
    c = DAY_CLOCKS[key][office]
    u = c.add(t, n, WD)
    assert c.between(t, u, WD) == n
    if n:
        assert is_a_close(c, u)


@PROPS
@given(st.data(), interval_clocks)
def test_add_between_round_trip(data, which):
    """For t <= u: v = add(t, between(t, u)) is <= u with nothing counted in [v, u];
    v == u exactly when u == t or the minute before u is counted (u is inside or at the end of a period)."""
    key, t = data.draw(moments())
    u = data.draw(more_moments(key))
    if u < t:
        t, u = u, t
    c = CLOCKS[key]
    v = c.add(t, c.between(t, u, which), which)
    assert t <= v <= u
    assert c.between(v, u, which) == ZERO
    assert (v == u) == (u == t or counted_just_before(c, u, which))


@PROPS
@given(st.data(), interval_clocks)
def test_add_between_round_trip_short_range(data, which):
    """The same with u at most two days after t, where both outcomes are common."""
    key, t = data.draw(moments())
    u = t + data.draw(st.integers(0, 2 * 24 * 60)) * M
    c = CLOCKS[key]
    v = c.add(t, c.between(t, u, which), which)
    assert t <= v <= u
    assert c.between(v, u, which) == ZERO
    assert (v == u) == (u == t or counted_just_before(c, u, which))


@PROPS
@given(moments(), durations, interval_clocks)
def test_subtract_after_add(kt, d, which):
    """s = subtract(add(t, d), d) is >= t (the latest start), nothing is counted in [t, s],
    and s == t exactly when d == 0 or t itself is counted."""
    key, t = kt
    c = CLOCKS[key]
    s = c.subtract(c.add(t, d, which), d, which)
    assert s >= t
    assert c.between(t, s, which) == ZERO
    assert (s == t) == (d == ZERO or c.is_counted(t, which))


@PROPS
@given(moments(), durations, interval_clocks)
def test_add_after_subtract(kt, d, which):
    """between(subtract(u, d), u) == d; add(subtract(u, d), d) <= u with equality exactly when
    d == 0 or the minute before u is counted."""
    key, u = kt
    c = CLOCKS[key]
    s = c.subtract(u, d, which)
    assert s <= u
    assert c.between(s, u, which) == d
    v = c.add(s, d, which)
    assert v <= u
    assert (v == u) == (d == ZERO or counted_just_before(c, u, which))


@PROPS
@given(moments(), durations, interval_clocks)
def test_results_never_fall_inside_a_gap(kt, d, which):
    key, t = kt
    c = CLOCKS[key]
    if d > ZERO:
        assert c.is_counted(c.add(t, d, which) - M, which)  # the last counted minute ends there
        assert c.is_counted(c.subtract(t, d, which), which)  # the first counted minute starts there


@PROPS
@given(moments(), st.integers(0, 3 * 24 * 60), durations, interval_clocks)
def test_add_and_subtract_are_monotonic(kt, gap, d, which):
    key, t1 = kt
    t2 = t1 + gap * M
    c = CLOCKS[key]
    assert c.add(t1, d, which) <= c.add(t2, d, which)
    assert c.subtract(t1, d, which) <= c.subtract(t2, d, which)


@PROPS
@given(moments(), st.integers(0, 10 * 24 * 60), day_counts, offices)
def test_working_days_are_monotonic(kt, gap, n, office):
    key, t1 = kt
    t2 = t1 + gap * M
    c = DAY_CLOCKS[key][office]
    assert c.add(t1, n, WD) <= c.add(t2, n, WD)
    assert c.subtract(t1, n, WD) <= c.subtract(t2, n, WD)


@PROPS
@given(st.data(), st.sampled_from(list(Clock)))
def test_between_is_additive(data, which):
    key, a = data.draw(moments())
    b = a + data.draw(st.integers(-5 * 24 * 60, 5 * 24 * 60)) * M
    c = data.draw(more_moments(key))
    clock = CLOCKS[key]
    assert clock.between(a, b, which) + clock.between(b, c, which) == clock.between(a, c, which)


@PROPS
@given(moments(), interval_clocks)
def test_is_counted_agrees_with_between(kt, which):
    key, t = kt
    c = CLOCKS[key]
    assert c.between(t, t + M, which) == (M if c.is_counted(t, which) else ZERO)


@PROPS
@given(moments(), day_counts, offices)
def test_subtract_working_days_is_the_latest_close_before(kt, n, office):
    """add(subtract(u, n), n) <= u, and one working day later would overshoot: subtract is the close of
    a working day (for n > 0) from which n working days end no later than u, and the next close does not."""
    key, u = kt
    c = DAY_CLOCKS[key][office]
    s = c.subtract(u, n, WD)
    assert c.add(s, n, WD) <= u
    if n:
        assert is_a_close(c, s)
        assert c.add(c.add(s, 1, WD), n, WD) > u
        assert c.between(s, c.add(s, n, WD), WD) == n


# ================================================================================================
# Agreement with the naive reference
# ================================================================================================

# the reference knows only the years of the CSV: keep every walk inside them
REF_FIRST, REF_LAST = date(2024, 1, 20), date(2027, 12, 10)


def _compare(key: str, t: datetime, u: datetime, d: timedelta, n: int) -> None:
    c, ref = CLOCKS[key], REFERENCES[key]
    for which in INTERVAL_CLOCKS:
        whole = which is CW
        assert c.add(t, d, which) == ref.add(t, d, whole), (which, local_str(c, t), d)
        assert c.subtract(t, d, which) == ref.subtract(t, d, whole), (which, local_str(c, t), d)
        assert c.between(t, u, which) == ref.between(t, u, whole), (which, local_str(c, t), local_str(c, u))
        assert c.is_counted(t, which) == ref.counted(c.local(t).replace(tzinfo=None), whole)
    assert c.add(t, n, WD) == ref.add_days(t, n), (local_str(c, t), n)
    assert c.subtract(t, n, WD) == ref.subtract_days(t, n), (local_str(c, t), n)
    assert c.between(t, u, WD) == ref.between_days(t, u)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_agrees_with_the_reference(data):
    key, t = data.draw(moments(REF_FIRST, REF_LAST))
    u = t + data.draw(st.integers(-36 * 60, 36 * 60)) * M
    d = data.draw(st.integers(0, 12 * 60)) * M
    n = data.draw(st.integers(0, 6))
    _compare(key, t, u, d, n)


def test_agrees_with_the_reference_on_seeded_random_cases():
    rnd = random.Random(20251101)
    span = (REF_LAST - REF_FIRST).days
    special = [date(2025, 11, 1), date(2025, 12, 31), date(2026, 1, 9), date(2025, 3, 7), date(2024, 12, 28),
               date(2026, 3, 6), date(2027, 2, 20), date(2024, 11, 2), date(2026, 5, 8)]
    for _ in range(200):
        key = rnd.choice([tz.key for tz in ZONES])
        day = rnd.choice(special) if rnd.random() < 0.3 else REF_FIRST + timedelta(days=rnd.randrange(span))
        minute = rnd.choice(BOUNDARIES) if rnd.random() < 0.4 else rnd.randrange(24 * 60)
        t = datetime.combine(day, time(minute // 60, minute % 60), ZoneInfo(key))
        u = t + rnd.randrange(-36 * 60, 36 * 60) * M
        d = rnd.choice([rnd.randrange(12 * 60), 60 * rnd.randrange(13)]) * M
        _compare(key, t.astimezone(UTC) if rnd.random() < 0.5 else t, u, d, rnd.randrange(7))


def test_reference_agrees_on_a_shortened_day_cut_across_lunch():
    spec = _friday_spec("09:00-14:30")
    c = make_clock(SAKHALIN, spec)
    ref = ReferenceClock(
        SAKHALIN,
        Hours(
            weekdays={0: ("09:00-18:00",), 1: ("09:00-18:00",), 2: ("09:00-18:00",), 3: ("09:00-18:00",),
                      4: ("09:00-14:30",)},
            worked_weekend=("09:00-18:00",),
            lunch=("13:00-14:00",),
        ),
    )
    start = at(SAKHALIN, 2025, 3, 6, 8)
    for step in range(0, 3 * 24 * 60, 20):
        t = start + step * M
        for d in (30 * M, H, 5 * H):
            assert c.add(t, d, W) == ref.add(t, d, False), (local_str(c, t), d)
            assert c.subtract(t, d, W) == ref.subtract(t, d, False), (local_str(c, t), d)
        assert c.add(t, 1, WD) == ref.add_days(t, 1)


def test_reference_can_tell_a_wrong_answer():
    """The reference is not vacuous: it disagrees with an answer that ignores lunch or the short day."""
    ref = REFERENCES["Europe/Moscow"]
    assert ref.add(msk(2025, 10, 14, 12, 30), H, False) == msk(2025, 10, 14, 14, 30)
    assert ref.add(msk(2025, 10, 31, 15), 8 * H, False) == msk(2025, 11, 1, 15)
    assert ref.add_days(msk(2025, 10, 31, 10), 1) == msk(2025, 11, 1, 17)
    with pytest.raises(LookupError):
        ref.add(msk(2027, 12, 31, 17), 8 * H, False)


# ================================================================================================
# Regressions: working days at a 24:00 close, weekdays closed by the week, naive moments
# ================================================================================================


def test_working_days_with_offices_closing_at_midnight():
    """A 24:00 close is the next day's 00:00; that moment still belongs to the closing day."""
    clock = make_clock(MSK, ROUND_THE_CLOCK)
    t = msk(2025, 10, 13, 10)  # Monday
    one = clock.add(t, 1, WD)
    assert_local(clock, one, msk(2025, 10, 15, 0))  # Tuesday 24:00
    assert clock.between(t, one, WD) == 1
    assert_local(clock, clock.add(one, 1, WD), msk(2025, 10, 16, 0))  # Wednesday 24:00
    assert clock.add(one, 1, WD) == clock.add(t, 2, WD)
    assert_local(clock, clock.subtract(clock.add(t, 2, WD), 2, WD), msk(2025, 10, 14, 0))  # Monday 24:00
    # Friday 24:00 is followed by the weekend: one more working day is Monday 24:00
    assert_local(clock, clock.add(msk(2025, 10, 18, 0), 1, WD), msk(2025, 10, 21, 0))


def test_working_days_over_a_working_day_without_office_hours():
    # Sunday 2025-10-19 made a working day locally, with no weekend hours: it counts to its end
    spec = OfficeHoursSpec(**WEEK, lunch="13:00-14:00", worked_weekend="")
    clock = make_clock(MSK, spec, CalendarSpec(extra_working_days=[date(2025, 10, 19)]))
    fri = msk(2025, 10, 17, 10)
    one = clock.add(fri, 1, WD)
    assert_local(clock, one, msk(2025, 10, 20, 0))
    assert clock.between(fri, one, WD) == 1
    assert_local(clock, clock.add(one, 1, WD), msk(2025, 10, 20, 18))
    assert clock.add(one, 1, WD) == clock.add(fri, 2, WD)


def test_weekday_closed_by_the_week_has_no_working_time():
    spec = OfficeHoursSpec(
        mon="09:00-18:00", tue="09:00-18:00", wed="", thu="09:00-18:00", fri="09:00-18:00",
        worked_weekend="10:00-12:00",
    )
    clock = make_clock(MSK, spec)
    assert clock.working_periods(date(2025, 10, 15)) == ()
    assert clock.between(msk(2025, 10, 15), msk(2025, 10, 16), W) == ZERO
    assert_local(clock, clock.add(msk(2025, 10, 14, 17), 2 * H, W), msk(2025, 10, 16, 10))
    # a worked Saturday still gets the worked-weekend hours
    assert clock.working_periods(date(2024, 4, 27)) == (_p("10:00", "12:00"),)


@pytest.mark.parametrize("which", list(Clock))
def test_is_counted_refuses_naive_datetimes(which):
    with pytest.raises(ValueError, match="naive"):
        MOSCOW.is_counted(datetime(2025, 10, 14, 10), which)  # noqa: DTZ001
