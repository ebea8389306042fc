"""Deadline computation: a timer of a profile, started at a moment, is due when?"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from profiles.clocks import Clock
from profiles.schema import Profile, TimerSpec

_INSTANT = timedelta(microseconds=1)

# Another timer's deadline, by timer id (None when that timer is not running).
DeadlineOf = Callable[[str], datetime | None]


@dataclass(frozen=True)
class Deadline:
    timer: TimerSpec
    start: datetime  # the moment it counts from
    due: datetime
    reminders: tuple[datetime, ...]  # when to remind, earliest first, on the timer's clock


def due_at(profile: Profile, timer: TimerSpec, start: datetime, other: DeadlineOf) -> datetime:
    """When ``timer``, counting from ``start``, runs out."""
    clock = profile.clock
    if timer.relative is not None:
        base = other(timer.relative.timer)
        if base is None:  # the timer it hangs on is not running: count from the start instead
            base_spec = profile.timer(timer.relative.timer, _track_of(profile, timer))
            base = due_at(profile, base_spec, start, other)
        rel = timer.relative
        due = (
            clock.subtract(base, rel.before, timer.clock)
            if rel.before is not None
            else clock.add(base, rel.after, timer.clock)  # type: ignore[arg-type]
        )
    else:
        assert timer.duration is not None
        due = clock.add(start, timer.duration, timer.clock)
    if timer.at_least is not None:
        floor = clock.add(start, timer.at_least.duration, timer.at_least.clock)
        due = max(due, floor)
    if timer.no_later_than:
        cap = other(timer.no_later_than)
        if cap is not None and cap < due:
            due = cap
    return due.astimezone(profile.tz)


def reminder_times(profile: Profile, timer: TimerSpec, start: datetime, due: datetime) -> tuple[datetime, ...]:
    """Reminders ``timer.reminders`` before ``due`` on the timer's clock, those after ``start`` only.

    Under a working-time clock a reminder is one people can act on:
    - ``working`` / ``calendar_working``: never on a day before the deadline's own working day. One that
      would fall earlier (1 working hour before 09:29 on 11 January is 30 December 17:29) comes when the
      deadline's day opens (11 January 09:00, with 29 working minutes left). Two that meet there are one.
    - ``working_days``: N days before a deadline at the close of day D is the close of day D-N, when the
      office is empty; it comes when the next working day opens, the same moment in working time
      (1d: the morning of the deadline's day).
    """
    clock = profile.clock
    times: set[datetime] = set()
    for offset in timer.reminders:
        at = clock.subtract(due, offset, timer.clock)
        if timer.clock is Clock.WORKING_DAYS:
            at = clock.next_start(at, Clock.WORKING)
        elif timer.clock is not Clock.CALENDAR:
            day = (due - _INSTANT).astimezone(profile.tz).date()  # the day of the deadline's last counted instant
            opening = clock.day_start(day, timer.clock)
            if opening is not None and at < opening:
                at = opening
        times.add(at.astimezone(profile.tz))
    return tuple(sorted(t for t in times if start < t < due))


def deadline(profile: Profile, timer: TimerSpec, start: datetime, other: DeadlineOf) -> Deadline:
    due = due_at(profile, timer, start, other)
    return Deadline(timer, start, due, reminder_times(profile, timer, start, due))


def all_deadlines(profile: Profile, track: str, at: datetime) -> list[Deadline]:
    """Every timer of a track as if each of its starting events happened at ``at``."""
    timers = profile.timers_for(track)
    done: dict[str, Deadline] = {}

    def other(timer_id: str) -> datetime | None:
        spec = next((t for t in timers if t.id == timer_id), None)
        if spec is None:
            return None
        if timer_id not in done:
            done[timer_id] = deadline(profile, spec, at, other)
        return done[timer_id].due

    for t in timers:
        other(t.id)
    return [done[t.id] for t in timers]


def _track_of(profile: Profile, timer: TimerSpec) -> str:
    return timer.tracks[0] if timer.tracks else next(iter(profile.tracks))
