"""When a running timer speaks: reminders before its deadline, the overdue notice, and its repeats; the
step an incident waits for now; how much time is left, on the deadline's own clock.

Pure: the profile, the timer and a moment in, moments out.

- Reminders come at the profile's offsets before the deadline, on the timer's own clock; under a
  working-time clock never on a day before the deadline's working day (profiles/deadlines.py).
- The overdue notice comes at the deadline itself; it repeats every ``overdue_every`` of office hours
  (the working clock), so a late step is chased during the day.
- Quiet hours (the profile's ``[quiet_hours]``): a notice that falls inside is delivered when they end,
  unless its track or timer is urgent. Its moment (``at``) stays what the regulation says; only the
  delivery (``deliver_at``) moves. Several that meet there are one (the latest).
- A window (``kind = "window"``) lapses silently: no notices at all.
- A notice missed while the bot was down is delivered once, marked late; earlier missed ones collapse
  into it. Never twice: the caller stores the next delivery moment in the same transaction as the message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from bot.workflow.model import Incident, RunningTimer, State
from profiles.clocks import Clock
from profiles.deadlines import reminder_times
from profiles.events import Action
from profiles.schema import Profile, TimerSpec

LATE_AFTER = timedelta(minutes=1)  # a notice sent later than this after its moment is marked late
MAX_REPEATS = 50


class NoticeKind(StrEnum):
    REMINDER = "reminder"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class Notice:
    kind: NoticeKind
    at: datetime  # its moment by the regulation's clock
    late: bool  # sent late (the bot was down)
    repeat: int  # 0 for the first overdue notice, 1.. for repeats
    deliver_at: datetime | None = None  # when it is delivered: ``at``, or when the quiet hours it fell in end

    @property
    def delivery(self) -> datetime:
        return self.deliver_at or self.at

    @property
    def deferred(self) -> bool:
        """Held back by quiet hours."""
        return self.delivery > self.at


@dataclass(frozen=True)
class Point:
    kind: NoticeKind
    at: datetime
    deliver_at: datetime
    repeat: int


def points(profile: Profile, spec: TimerSpec, timer: RunningTimer, track: str | None = None) -> Iterator[Point]:
    """Every moment this timer speaks, in order of delivery (the repeats are bounded).

    ``track`` decides whether quiet hours hold its notices back (an urgent track is never held); without
    it nothing is held back, so the moments are the earliest possible ones (a safe lower bound)."""
    if spec.kind == "window":
        return
    quiet = profile.quiet if track is not None and not profile.urgent(spec, track) else None

    def point(kind: NoticeKind, at: datetime, n: int) -> Point:
        return Point(kind, at, quiet.release(at) if quiet is not None else at, n)

    for at in reminder_times(profile, spec, timer.started_at, timer.due_at):
        yield point(NoticeKind.REMINDER, at, 0)
    yield point(NoticeKind.OVERDUE, timer.due_at, 0)
    every = spec.overdue_every or profile.defaults.overdue_every
    at = timer.due_at
    for n in range(1, MAX_REPEATS + 1):
        at = profile.clock.add(at, every, Clock.WORKING)
        yield point(NoticeKind.OVERDUE, at, n)


def first_after(profile: Profile, spec: TimerSpec, timer: RunningTimer, moment: datetime,
                track: str | None = None) -> datetime | None:
    """The first delivery moment after ``moment`` of this timer's notices, or None."""
    return next((p.deliver_at for p in points(profile, spec, timer, track) if p.deliver_at > moment), None)


def due_notice(profile: Profile, spec: TimerSpec, timer: RunningTimer, pending_since: datetime,
               now: datetime, track: str | None = None) -> tuple[Notice | None, datetime | None]:
    """The one notice to deliver now (the latest due since ``pending_since``) and the next delivery after now."""
    latest = None
    nxt = None
    for p in points(profile, spec, timer, track):
        if p.deliver_at > now:
            nxt = p.deliver_at
            break
        if p.deliver_at >= pending_since:
            latest = Notice(p.kind, p.at, now - p.deliver_at > LATE_AFTER, p.repeat, p.deliver_at)
    return latest, nxt


# --- the step an incident waits for now ------------------------------------------------------------

_ACTING: dict[State, Action] = {
    State.NEW: Action.ROUTE,
    State.ASSIGNED: Action.ANSWER,
    State.REWORK: Action.ANSWER,
    State.AWAITING_FINAL: Action.ANSWER,
    State.APPROVED: Action.PUBLISH,
    State.CLARIFICATION: Action.CLARIFY,
}


def acting_roles(profile: Profile, incident: Incident) -> set[str]:
    """The profile's roles whose step the incident waits for in its state (review: the current step's)."""
    if incident.state is State.REVIEW:
        return {profile.approval[incident.step].role} if incident.step < len(profile.approval) else set()
    action = _ACTING.get(incident.state)
    return set(profile.roles_with(action)) if action else set()


def current_timer(profile: Profile, incident: Incident) -> RunningTimer | None:
    """The deadline of the step the incident waits for now: among its running deadlines (never a window,
    never a paused one) those of the roles who must act in this state, the earliest; else the earliest
    running deadline; None when nothing runs (e.g. every timer paused while the author is asked)."""
    if not incident.state.is_open:
        return None
    running = []
    for t in incident.timers:
        try:
            spec = profile.timer(t.timer_id, incident.track)
        except KeyError:  # a timer the profile no longer has
            continue
        if spec.kind != "window" and t.paused_at is None:
            running.append((t, spec))
    acting = acting_roles(profile, incident)
    own = [t for t, spec in running if spec.role in acting]
    return min(own or [t for t, _spec in running], key=lambda t: t.due_at, default=None)


def status_timer(profile: Profile, incident: Incident,
                 departments: Iterable[int] | None = None) -> RunningTimer | None:
    """The deadline /status shows for the incident: that of the step it waits for now (never a window); for
    the head of ``departments``, the nearest of the running deadlines they must meet (``department_timer``),
    if any; a paused one when nothing runs (the author is asked)."""
    if departments is not None:
        mine = [t for d in set(departments) if (t := department_timer(profile, incident, d)) is not None]
        if mine:
            return min(mine, key=lambda t: t.due_at)
    windows = {t.id for t in profile.timers_for(incident.track) if t.kind == "window"}
    timers = [t for t in incident.timers if t.timer_id not in windows]
    return current_timer(profile, incident) or min(timers, key=lambda t: t.due_at, default=None)


def department_timer(profile: Profile, incident: Incident, department: int) -> RunningTimer | None:
    """The nearest running deadline this department's head must meet (never a window): a timer of a role with
    the answer action, the department's own (a co-executor's) or, without a department, the lead's."""
    answering = set(profile.roles_with(Action.ANSWER))
    mine = []
    for t in incident.timers:
        if t.paused_at is not None or (t.department_id if t.department_id is not None else incident.lead) != department:
            continue
        try:
            spec = profile.timer(t.timer_id, incident.track)
        except KeyError:  # a timer the profile no longer has
            continue
        if spec.kind != "window" and spec.role in answering:
            mine.append(t)
    return min(mine, key=lambda t: t.due_at, default=None)


@dataclass(frozen=True)
class StatusKeys:
    """What /status sorts, counts and filters an open incident by, kept beside it in the database so that
    /status reads one page in SQL rather than every incident (storage.incidents writes them on every save,
    from these functions; nothing else decides them).

    ``due``: the deadline shown to whoever sees every incident (``status_timer`` without departments), and
    ``late_from`` the same when it runs (a paused deadline is never late); ``waiting``: the deadline of the step
    it waits for (``current_timer``: the digest's order). ``departments``: for each department listed on the
    incident or owning one of its timers, whether it is listed and the deadline its head must meet
    (``department_timer``)."""

    due: datetime | None
    late_from: datetime | None
    waiting: datetime | None
    departments: tuple[tuple[int, bool, datetime | None], ...]


def status_keys(profile: Profile, incident: Incident) -> StatusKeys:
    if not incident.state.is_open:
        return StatusKeys(None, None, None, ())
    shown = status_timer(profile, incident)
    waiting = current_timer(profile, incident)
    due = shown.due_at if shown else None
    listed = set(incident.departments)
    owners = listed | {t.department_id for t in incident.timers if t.department_id is not None}
    deps = []
    for d in sorted(owners):
        his = department_timer(profile, incident, d)
        deps.append((d, d in listed, his.due_at if his else None))
    return StatusKeys(due, due if shown is not None and shown.paused_at is None else None,
                      waiting.due_at if waiting else None, tuple(deps))


def status_fingerprint(profile: Profile) -> str:
    """What of the profile ``status_keys`` reads (timers' kinds, roles and tracks, the roles' actions, the
    approval chain): kept with the keys, so that a changed profile has its open incidents' keys recomputed."""
    known = _FINGERPRINTS.get(id(profile))
    if known is not None and known[0] is profile:
        return known[1]
    parts = [
        sorted((t.id, t.kind, t.role, tuple(sorted(t.tracks or ()))) for t in profile.timers),
        sorted((r, sorted(str(a) for a in profile.effective_actions(r))) for r in profile.roles),
        [s.role for s in profile.approval],
        sorted(profile.tracks),
    ]
    fingerprint = hashlib.sha256(repr(parts).encode()).hexdigest()[:16]
    _FINGERPRINTS[id(profile)] = (profile, fingerprint)
    return fingerprint


_FINGERPRINTS: dict[int, tuple[Profile, str]] = {}  # a profile is read once per process: a handful


# --- time left, on the deadline's own clock -------------------------------------------------------


@dataclass(frozen=True)
class Left:
    """Time left to a deadline as people read it: from the minute on their phone to the minute shown."""

    clock: Clock
    amount: timedelta  # counted time on ``clock`` (calendar, working or calendar_working)
    days: int = 0  # working days, today included (working_days)


def left(profile: Profile, spec: TimerSpec, due: datetime, now: datetime) -> Left:
    a, b = _minute(now), _minute(due)
    if b <= a:
        return Left(spec.clock, timedelta(0))
    if spec.clock is Clock.WORKING_DAYS:
        counted = profile.clock.between(a, b, Clock.WORKING)
        days = profile.clock.between(a, b, Clock.WORKING_DAYS)
        if profile.clock.is_counted(a, Clock.WORKING) or _opens_later_today(profile, a):
            days += 1  # today is one of them
        return Left(spec.clock, counted, max(int(days), 1))  # type: ignore[arg-type]
    amount = profile.clock.between(a, b, spec.clock)
    return Left(spec.clock, amount if isinstance(amount, timedelta) else timedelta(0))


def _opens_later_today(profile: Profile, moment: datetime) -> bool:
    start = profile.clock.next_start(moment, Clock.WORKING)
    return start.astimezone(profile.tz).date() == moment.astimezone(profile.tz).date()


def _minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


# --- the coordinator's message not yet sent on ------------------------------------------------------


def intake_track(profile: Profile, source: str | None) -> str | None:
    """The track a message taken in runs on: its (proposed or chosen) source's. With no source yet, a
    track whose routing deadline every source shares (not an urgent one: urgency is chosen with the
    source); None when the source decides the deadline: the reminder waits for the choice rather than
    guess a deadline (and cry "overdue" under the wrong clause)."""
    if source:
        try:
            return profile.source(source).track
        except KeyError:
            return None
    shapes = set()
    for track in profile.tracks:
        spec = profile.routing_timer(track)
        if spec is None:
            return None
        shapes.add((spec.duration, spec.clock, spec.relative, spec.at_least, tuple(spec.reminders)))
    if len(shapes) != 1:
        return None
    calm = [t for t in profile.tracks if not profile.urgent(profile.routing_timer(t), t)]  # type: ignore[arg-type]
    return (calm or list(profile.tracks))[0]


def intake_notice(profile: Profile, spec: TimerSpec, timer: RunningTimer, track: str, noticed_until: datetime | None,
                  watched_from: datetime, now: datetime) -> tuple[Notice | None, datetime | None]:
    """The reminder or the overdue notice (once: no repeats for a message not yet sent on) to deliver now,
    and the next delivery after now. Those due before the bot began watching this deadline (a post found
    late, a source chosen late) are not "late": nobody missed them."""
    latest = None
    nxt = None
    for p in points(profile, spec, timer, track):
        if p.repeat:
            break
        if p.deliver_at > now:
            nxt = p.deliver_at
            break
        if noticed_until is None or p.deliver_at > noticed_until:
            late = p.deliver_at >= watched_from and now - p.deliver_at > LATE_AFTER
            latest = Notice(p.kind, p.at, late, 0, p.deliver_at)
    return latest, nxt


# --- the daily digest -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestSlot:
    day: date  # the digest's day: it covers the days since the previous digest, up to this one
    at: datetime  # digest_at on that day
    deliver_at: datetime  # or when the quiet hours it falls in end


def digest_slot(profile: Profile, bound_day: date, now: datetime, sent_today: bool) -> DigestSlot | None:
    """The next digest the group is owed: today's if not sent yet, else the next digest day's. A day
    whose digest the bot missed altogether is covered by the next one."""
    today = now.astimezone(profile.tz).date()
    calendar = profile.clock.calendar
    for i in range(400):
        day = today + timedelta(days=i)
        if day <= bound_day or (i == 0 and sent_today):
            continue
        if profile.defaults.digest_on_working_days_only and not calendar.is_working(day):
            continue
        at = datetime.combine(day, profile.defaults.digest_at, profile.tz)
        quiet = profile.quiet
        return DigestSlot(day, at, quiet.release(at) if quiet is not None else at)
    return None
