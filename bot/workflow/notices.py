"""When a running timer speaks: reminders before its deadline, the overdue notice, and its repeats.

Pure: the profile, the timer and a moment in, moments out.

- Reminders come at the profile's offsets before the deadline, on the timer's own clock, so under a
  working-time clock they never fall at night or on a holiday.
- The overdue notice comes at the deadline itself; it repeats every ``overdue_every`` of office hours
  (the working clock), so a late step is chased during the day and nobody is woken at night.
- A window (``kind = "window"``) lapses silently: no notices at all.
- A notice missed while the bot was down is delivered once, marked late; earlier missed ones collapse
  into it. Never twice: the caller stores the next moment in the same transaction as the message.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.workflow.model import RunningTimer
from profiles.clocks import Clock
from profiles.deadlines import reminder_times
from profiles.schema import Profile, TimerSpec

LATE_AFTER = timedelta(minutes=1)  # a notice sent later than this after its moment is marked late
MAX_REPEATS = 50


class NoticeKind(StrEnum):
    REMINDER = "reminder"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class Notice:
    kind: NoticeKind
    at: datetime  # when it was due to be sent
    late: bool  # sent late (the bot was down)
    repeat: int  # 0 for the first overdue notice, 1.. for repeats


def points(profile: Profile, spec: TimerSpec, timer: RunningTimer) -> Iterator[tuple[NoticeKind, datetime, int]]:
    """Every moment this timer speaks, in order (the repeats are bounded)."""
    if spec.kind == "window":
        return
    for at in reminder_times(profile, spec, timer.started_at, timer.due_at):
        yield NoticeKind.REMINDER, at, 0
    yield NoticeKind.OVERDUE, timer.due_at, 0
    every = spec.overdue_every or profile.defaults.overdue_every
    at = timer.due_at
    for n in range(1, MAX_REPEATS + 1):
        at = profile.clock.add(at, every, Clock.WORKING)
        yield NoticeKind.OVERDUE, at, n


def first_after(profile: Profile, spec: TimerSpec, timer: RunningTimer, moment: datetime) -> datetime | None:
    """The first moment after ``moment`` this timer speaks, or None."""
    return next((at for _, at, _ in points(profile, spec, timer) if at > moment), None)


def due_notice(profile: Profile, spec: TimerSpec, timer: RunningTimer, pending_since: datetime,
               now: datetime) -> tuple[Notice | None, datetime | None]:
    """The one notice to send now (the latest due since ``pending_since``) and the next moment after now."""
    latest = None
    nxt = None
    for kind, at, n in points(profile, spec, timer):
        if at > now:
            nxt = at
            break
        if at >= pending_since:
            latest = Notice(kind, at, now - at > LATE_AFTER, n)
    return latest, nxt
