"""The profile file format: one regulation as data, validated on load.

A profile is a TOML file (see profiles/izobilny.toml, the default, for a commented example).
Structure is checked by pydantic; references between sections (roles, tracks, timers, events) are
checked by ``Profile.cross_check``. Both kinds of problem come out as one line each naming the key.
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from functools import cached_property
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, field_validator

from profiles.calendar import ProductionCalendar
from profiles.clocks import BusinessClock, Clock, OfficeHours, Period
from profiles.events import APPROVED_STEP_PREFIX, Action, Event, Outcome, Step
from profiles.quiet import QuietHours

_DURATION = re.compile(r"^(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m(?:in)?)?$")


def parse_duration(value: object) -> timedelta:
    """'30m', '1h30m', '4h', '3d' -> timedelta. Negative or empty durations are refused."""
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise ValueError("a duration cannot be negative")
        return value
    if not isinstance(value, str):
        raise ValueError(f"a duration is a string like '30m', '1h30m' or '3d', not {value!r}")
    text = value.strip().replace(" ", "")
    if text.startswith("-"):
        raise ValueError(f"a duration cannot be negative: {value!r}")
    m = _DURATION.match(text)
    if not text or not m or not any(m.groupdict().values()):
        raise ValueError(f"bad duration {value!r}: write it like '30m', '1h30m', '4h' or '3d'")
    d, h, mi = (int(m.group(k) or 0) for k in ("d", "h", "m"))
    return timedelta(days=d, hours=h, minutes=mi)


def format_duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes and minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    h, m = divmod(minutes, 60)
    return (f"{h}h" if h else "") + (f"{m}m" if m or not h else "")


Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration)]

_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")


def _parse_time(text: str) -> time:
    m = _HHMM.match(text.strip())
    if not m:
        raise ValueError(f"bad time {text!r}: write HH:MM")
    h, mi = int(m.group(1)), int(m.group(2))
    if h == 24 and mi == 0:
        return time.max
    if h > 23 or mi > 59:
        raise ValueError(f"bad time {text!r}")
    return time(h, mi)


def parse_periods(value: object) -> tuple[Period, ...]:
    """'09:00-18:00' or '' (day off) or a list of such strings."""
    if isinstance(value, tuple) and all(isinstance(p, Period) for p in value):
        return value
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValueError("office hours are 'HH:MM-HH:MM', a list of those, or '' for a day off")
    out: list[Period] = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"bad office hours {item!r}")
        if not item.strip():
            continue
        start, sep, end = item.partition("-")
        if not sep:
            raise ValueError(f"bad office hours {item!r}: write 'HH:MM-HH:MM'")
        p = Period(_parse_time(start), _parse_time(end))
        if p.start == time.max or (p.end != time.max and p.end <= p.start):
            raise ValueError(f"office hours {item!r} end before they start")
        if out and p.start < out[-1].end:
            raise ValueError(f"office hours {item!r} overlap the previous period")
        out.append(p)
    return tuple(out)


Periods = Annotated[
    tuple[Period, ...],
    BeforeValidator(parse_periods),
    PlainSerializer(lambda ps: [str(p) for p in ps]),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OfficeHoursSpec(Strict):
    """Office hours of the administration. The regulations do not set them: each profile says whose."""

    mon: Periods
    tue: Periods
    wed: Periods
    thu: Periods
    fri: Periods
    sat: Periods = ()
    sun: Periods = ()
    lunch: Periods = ()
    worked_weekend: Periods = Field(description="hours of a Saturday/Sunday the calendar makes working")
    short_day_by: Duration = timedelta(hours=1)
    note: str = ""

    def build(self) -> OfficeHours:
        days = [self.mon, self.tue, self.wed, self.thu, self.fri, self.sat, self.sun]
        return OfficeHours(
            weekdays=tuple(_minus_lunch(d, self.lunch) for d in days),
            worked_weekend=_minus_lunch(self.worked_weekend, self.lunch),
            short_by=self.short_day_by,
        )


def _minus_lunch(periods: tuple[Period, ...], lunch: tuple[Period, ...]) -> tuple[Period, ...]:
    out = list(periods)
    for gap in lunch:
        nxt: list[Period] = []
        for p in out:
            if gap.end <= p.start or gap.start >= p.end:
                nxt.append(p)
                continue
            if p.start < gap.start:
                nxt.append(Period(p.start, gap.start))
            if gap.end < p.end:
                nxt.append(Period(gap.end, p.end))
        out = nxt
    return tuple(out)


class CalendarSpec(Strict):
    country: Literal["RU"] = "RU"
    extra_days_off: list[date] = []
    extra_working_days: list[date] = []
    extra_short_days: list[date] = []

    def build(self) -> ProductionCalendar:
        return ProductionCalendar.russian(
            self.extra_days_off, self.extra_working_days, self.extra_short_days
        )


class RoleSpec(Strict):
    title: str = Field(min_length=1)
    clause: str = ""
    can: list[Action] = []
    acts_for: str | None = None  # a substitute: acts for this role while it is away
    note: str = ""


class TrackSpec(Strict):
    title: str = Field(min_length=1)
    clause: str = ""
    urgent: bool = False  # its notices are not held back by quiet hours (Южно-Сахалинск п. 3.9)


class SourceSpec(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = Field(min_length=1)
    track: str
    domains: list[str] = []  # links to these domains propose this source
    channels: list[str] = []  # forwards from these channel usernames propose this source


class ApprovalStep(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = Field(min_length=1)
    role: str
    clause: str = ""
    checklist: list[str] = []  # to be ticked before this step can approve (Елец п. 7)


class RelativeDeadline(Strict):
    """A deadline set relative to another timer's: ``duration`` before (or after) its deadline."""

    timer: str
    before: Duration | None = None
    after: Duration | None = None


class AtLeast(Strict):
    """The period must hold at least this much time on another clock (Ю-С п. 3.3: ≥ 8 working hours)."""

    duration: Duration
    clock: Clock


class TimerSpec(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = Field(min_length=1)
    clause: str = Field(min_length=1)
    role: str  # who must act before it runs out
    start: list[str] = Field(min_length=1)  # events that start it
    stop: list[str] = Field(min_length=1)  # events that stop it (done)
    pause: list[str] = []
    resume: list[str] = []
    count_from: str | None = None  # count from the moment of this earlier event, not the start's
    duration: Duration | None = None
    clock: Clock = Clock.CALENDAR
    relative: RelativeDeadline | None = None
    no_later_than: str | None = None  # never past this other timer's deadline
    at_least: AtLeast | None = None  # never earlier than start + this duration on that clock
    tracks: list[str] = []  # empty: every track
    per: Literal["incident", "co_executor"] = "incident"
    kind: Literal["deadline", "window"] = "deadline"  # a window lapses silently when it runs out
    reminders: list[Duration] = []  # before the deadline, on the timer's own clock
    overdue_every: Duration | None = None  # repeat the overdue notice this often
    urgent: bool = False  # its notices are not held back by quiet hours
    note: str = ""  # how an ambiguous clause is read, and why
    # the monthly report's "answer deadline": met by these events (default: the draft; a co-executor's part)
    answer: bool = False
    answered_by: list[str] = []

    @field_validator("start", "stop", "pause", "resume", mode="before")
    @classmethod
    def _one_or_many(cls, v: object) -> object:
        return [v] if isinstance(v, str) else v

    @field_validator("reminders", mode="before")
    @classmethod
    def _reminders_list(cls, v: object) -> object:
        items = [v] if isinstance(v, str) else v
        if isinstance(items, list):
            for item in items:
                if isinstance(item, str) and item.strip().startswith("-"):
                    raise ValueError(f"reminder {item!r} would come after the deadline: "
                                     "offsets count back from the deadline and are positive")
        return items


class Defaults(Strict):
    overdue_every: Duration = timedelta(hours=1)
    digest_at: time = time(9, 0)
    digest_on_working_days_only: bool = True


class RepeatsSpec(Strict):
    """A message repeating an earlier one is linked to it (Ставрополь п. 19, Первомайский р-н п. 18)."""

    clause: str = ""
    note: str = ""  # what the answer to a repeat must say, shown to the executors


class SurgeSpec(Strict):
    """Several messages on one issue within a window: an immediate report, as for a socially significant one
    (Первомайский р-н п. 24)."""

    count: int = Field(ge=2)
    window: Duration
    clause: str = ""


class WorkflowSpec(Strict):
    outcomes: list[Outcome] = []  # ways to end an incident without an answer
    intermediate_answers: bool = True
    clarifications: bool = False  # questions to the author (Елец п. 3, 5)
    joint_answer_by: str | None = None  # a role compiles the joint answer from every department's part (Перв. п. 17)
    repeats: RepeatsSpec | None = None
    surge: SurgeSpec | None = None
    # The timer that runs while a message waits to be sent on (starts on "detected"): the intake panel
    # shows its deadline and the coordinator is reminded by it. Named, never guessed.
    routing_timer: str | None = None


class ButtonSpec(Strict):
    """A profile's own words for a step: the button's label and the question it asks."""

    label: str = ""
    prompt: str = ""
    clause: str = ""


def _clock_time(value: object) -> object:
    return _parse_time(value) if isinstance(value, str) else value


ClockTime = Annotated[time, BeforeValidator(_clock_time), PlainSerializer(lambda t: f"{t:%H:%M}")]


class QuietHoursSpec(Strict):
    """When people are not pinged. A reminder, an overdue notice or the digest that falls inside is
    delivered when the quiet time ends, marked so, unless its track or timer is urgent; an urgent one in
    quiet hours also mentions the ``on_call`` roles. The deadline itself never moves."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    start: ClockTime = Field(alias="from")  # "21:00": nights from…
    end: ClockTime = Field(alias="to")  # …"08:00" (the next morning when earlier than from)
    days_off: bool = False  # days off of the production calendar are quiet all day
    on_call: list[str] = []  # roles pinged anyway by an urgent notice in quiet hours
    clause: str = ""
    note: str = ""


class ProfileMeta(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    name: str = Field(min_length=1)
    act: str = Field(min_length=1)
    act_date: date | None = None
    seed: str = ""  # the source document
    timezone: str
    interpretations: list[str] = []  # how ambiguous clauses are read, and why

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}: use an IANA name like 'Europe/Moscow'") from None
        return v


class Profile(Strict):
    profile: ProfileMeta
    office_hours: OfficeHoursSpec
    calendar: CalendarSpec = CalendarSpec()
    defaults: Defaults = Defaults()
    roles: dict[str, RoleSpec] = Field(min_length=1)
    tracks: dict[str, TrackSpec] = Field(min_length=1)
    sources: list[SourceSpec] = Field(min_length=1)
    approval: list[ApprovalStep] = []
    timers: list[TimerSpec] = Field(min_length=1)
    workflow: WorkflowSpec = WorkflowSpec()
    buttons: dict[str, ButtonSpec] = {}  # keys: a Step, or close.<outcome>
    quiet_hours: QuietHoursSpec | None = None  # none: people may be pinged at any hour

    # --- derived views -----------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self.profile.id

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.profile.timezone)

    @cached_property
    def clock(self) -> BusinessClock:
        return BusinessClock(self.tz, self.office_hours.build(), self.calendar.build())

    def source(self, source_id: str) -> SourceSpec:
        for s in self.sources:
            if s.id == source_id:
                return s
        raise KeyError(f"profile {self.id}: no source {source_id!r}")

    def timers_for(self, track: str) -> list[TimerSpec]:
        return [t for t in self.timers if not t.tracks or track in t.tracks]

    def timer(self, timer_id: str, track: str) -> TimerSpec:
        for t in self.timers_for(track):
            if t.id == timer_id:
                return t
        raise KeyError(f"profile {self.id}: no timer {timer_id!r} on track {track!r}")

    def routing_timer(self, track: str) -> TimerSpec | None:
        """The timer a message runs on until it is sent on (``workflow.routing_timer``), on this track."""
        name = self.workflow.routing_timer
        return next((t for t in self.timers_for(track) if t.id == name), None) if name else None

    @cached_property
    def quiet(self) -> QuietHours | None:
        q = self.quiet_hours
        if q is None:
            return None
        return QuietHours(self.tz, q.start, q.end, q.days_off, self.clock.calendar)

    def urgent(self, timer: TimerSpec, track: str) -> bool:
        """Notices of this timer on this track are not held back by quiet hours."""
        return timer.urgent or (track in self.tracks and self.tracks[track].urgent)

    def events(self) -> set[str]:
        return {e.value for e in Event} | {APPROVED_STEP_PREFIX + s.id for s in self.approval}

    def roles_with(self, action: Action) -> list[str]:
        return [rid for rid, r in self.roles.items() if action in self.effective_actions(rid)]

    def effective_actions(self, role_id: str) -> set[Action]:
        role = self.roles[role_id]
        actions = set(role.can)
        if role.acts_for and role.acts_for in self.roles:
            actions |= set(self.roles[role.acts_for].can)
        return actions

    def uses(self, event: str) -> bool:
        """Some timer of the profile starts, stops, pauses or resumes on this event."""
        return any(event in (*t.start, *t.stop, *t.pause, *t.resume) for t in self.timers)

    def causers(self, event: str) -> set[str]:
        """The roles that can cause this event by a step of theirs (empty: nobody can)."""
        def having(*actions: Action) -> set[str]:
            return {r for a in actions for r in self.roles_with(a)}

        wf = self.workflow
        joint = {wf.joint_answer_by} if wf.joint_answer_by else set()
        steps = {s.role for s in self.approval}
        if event.startswith(APPROVED_STEP_PREFIX):
            return {s.role for s in self.approval if APPROVED_STEP_PREFIX + s.id == event}
        return {
            Event.ROUTED: having(Action.ROUTE),
            Event.RETURNED: having(Action.ANSWER, Action.RETURN),
            Event.DRAFT_SUBMITTED: having(Action.ANSWER) | joint,
            Event.DRAFT_WITHDRAWN: having(Action.ANSWER) | joint,
            Event.PART_SUBMITTED: having(Action.ANSWER),
            Event.PART_ACCEPTED: having(Action.ROUTE),
            Event.REWORK_REQUESTED: steps,
            Event.APPROVED: {self.approval[-1].role} if self.approval else set(),
            Event.PUBLISHED: having(Action.PUBLISH),
            Event.INTERMEDIATE_PUBLISHED: having(Action.PUBLISH) if wf.intermediate_answers else set(),
            Event.CLARIFICATION_REQUESTED: having(Action.CLARIFY) if wf.clarifications else set(),
            Event.CLARIFICATION_RECEIVED: having(Action.CLARIFY) if wf.clarifications else set(),
            Event.EXPLANATION_NEEDED: having(Action.CLOSE) if Outcome.EXPLAINED in wf.outcomes else set(),
            Event.CLOSED: having(Action.CLOSE) if wf.outcomes else set(),
        }.get(event, set())

    # --- references between sections ---------------------------------------------------------

    def cross_check(self) -> list[tuple[str, str]]:
        """Problems no single field shows: (key, reason) pairs; empty when the profile is sound."""
        problems: list[tuple[str, str]] = []
        roles, tracks, events = set(self.roles), set(self.tracks), self.events()

        for rid, role in self.roles.items():
            if role.acts_for and role.acts_for not in roles:
                problems.append((f"roles.{rid}.acts_for", f"unknown role {role.acts_for!r}"))
        for i, src in enumerate(self.sources):
            if src.track not in tracks:
                problems.append((f"sources[{i}].track", f"unknown track {src.track!r}; known: {_list(tracks)}"))
        ids = [s.id for s in self.sources]
        for dup in {x for x in ids if ids.count(x) > 1}:
            problems.append(("sources", f"source id {dup!r} is used twice"))
        for i, step in enumerate(self.approval):
            if step.role not in roles:
                problems.append((f"approval[{i}].role", f"unknown role {step.role!r}; known: {_list(roles)}"))

        seen: dict[tuple[str, str], int] = {}
        for i, t in enumerate(self.timers):
            key = f"timers[{i}] ({t.id})"
            for tr in t.tracks:
                if tr not in tracks:
                    problems.append((f"{key}.tracks", f"unknown track {tr!r}; known: {_list(tracks)}"))
            for tr in t.tracks or list(tracks):
                if (t.id, tr) in seen:
                    problems.append((f"{key}.id", f"timer {t.id!r} is defined twice for track {tr!r}"))
                seen[(t.id, tr)] = i
            if t.role not in roles:
                problems.append((f"{key}.role", f"unknown role {t.role!r}; known: {_list(roles)}"))
            for field in ("start", "stop", "pause", "resume"):
                for ev in getattr(t, field):
                    if ev not in events:
                        problems.append((f"{key}.{field}", f"unknown event {ev!r}; known: {_list(events)}"))
            if t.count_from and t.count_from not in events:
                problems.append((f"{key}.count_from", f"unknown event {t.count_from!r}"))
            if bool(t.pause) != bool(t.resume):
                problems.append((f"{key}.resume", "pause and resume go together"))
            problems += self._check_duration(key, t)
            for j, ev in enumerate(t.answered_by):
                if ev not in events:
                    problems.append((f"{key}.answered_by[{j}]", f"unknown event {ev!r}"))
            done = [ev for ev in t.stop if ev != Event.CLOSED]
            if t.kind == "deadline" and done and not any(self.causers(ev) for ev in done):
                problems.append((f"{key}.stop", "no role can take any step that meets this deadline "
                                 f"({', '.join(done)}): give a role the action that causes one"))
        problems += self._check_routing_timer()
        if self.quiet_hours is not None:
            for j, role in enumerate(self.quiet_hours.on_call):
                if role not in roles:
                    problems.append((f"quiet_hours.on_call[{j}]", f"unknown role {role!r}; known: {_list(roles)}"))
        return problems + self._check_steps()

    def _check_steps(self) -> list[tuple[str, str]]:
        """Every step the profile declares can be offered to someone."""
        problems: list[tuple[str, str]] = []
        wf = self.workflow
        if not self.approval:
            problems.append(("approval", "at least one approval step: who agrees a draft before it is published"))
        if wf.outcomes and not self.roles_with(Action.CLOSE):
            problems.append(("workflow.outcomes", "no role has the 'close' action to end an incident this way"))
        if wf.clarifications and not self.roles_with(Action.CLARIFY):
            problems.append(("workflow.clarifications", "no role has the 'clarify' action to ask the author"))
        if wf.intermediate_answers and not self.roles_with(Action.PUBLISH):
            problems.append(("workflow.intermediate_answers", "no role has the 'publish' action"))
        if not self.roles_with(Action.PUBLISH):
            problems.append(("roles", "no role has the 'publish' action: an answer could never be published"))
        if not self.roles_with(Action.ROUTE):
            problems.append(("roles", "no role has the 'route' action: a message could never reach an executor"))
        if wf.joint_answer_by and wf.joint_answer_by not in self.roles:
            problems.append(("workflow.joint_answer_by", f"unknown role {wf.joint_answer_by!r}; "
                             f"known: {_list(set(self.roles))}"))
        how = {Event.PART_ACCEPTED: "give a role the 'route' action",
               Event.EXPLANATION_NEEDED: "add 'explained' to workflow.outcomes and give a role the 'close' action"}
        for i, t in enumerate(self.timers):
            for field in ("start", "stop", "pause", "resume"):
                for event in getattr(t, field):
                    if event in how and not self.causers(event):
                        problems.append((f"timers[{i}] ({t.id}).{field}",
                                         f"no role can cause the event {event!r}: {how[Event(event)]}"))
        valid = {s.value for s in Step} | {f"{Step.CLOSE.value}.{o.value}" for o in Outcome}
        for key in self.buttons:
            if key not in valid:
                problems.append((f"buttons.{key}", f"unknown step; known: {_list(valid)}"))
            elif (why := self._not_offered(key)) is not None:
                problems.append((f"buttons.{key}", f"this profile never offers the step: {why}"))
        return problems

    def _check_routing_timer(self) -> list[tuple[str, str]]:
        name = self.workflow.routing_timer
        detected = Event.DETECTED.value
        if name is None:
            if any(detected in t.start for t in self.timers):
                return [("workflow.routing_timer", "required: name the timer a message runs on until it is sent "
                         "on (one that starts on 'detected'), e.g. routing_timer = \"route\"")]
            return []
        named = [t for t in self.timers if t.id == name]
        if not named:
            return [("workflow.routing_timer", f"unknown timer {name!r}; known: {_list({t.id for t in self.timers})}")]
        problems: list[tuple[str, str]] = []
        known = self.events()
        if any(detected not in t.start and set(t.start) <= known for t in named):  # else: its unknown event is said
            problems.append(("workflow.routing_timer", f"timer {name!r} does not start on 'detected': "
                             "it cannot be the deadline of a message not yet sent on"))
        if any(t.kind == "window" for t in named):
            problems.append(("workflow.routing_timer", f"timer {name!r} is a window, not a deadline"))
        for track in self.tracks:
            if self.routing_timer(track) is None:
                problems.append(("workflow.routing_timer", f"timer {name!r} does not run on track {track!r}"))
        return problems

    def _not_offered(self, key: str) -> str | None:
        """Why a step with words under [buttons] is never offered by this profile (None: it may be)."""
        wf = self.workflow
        step, _dot, outcome = key.partition(".")
        if outcome:
            return None if outcome in wf.outcomes else f"{outcome!r} is not in workflow.outcomes"
        if step in (Step.CLARIFY, Step.CLARIFIED, Step.NO_REPLY) and not wf.clarifications:
            return "workflow.clarifications is off"
        if step == Step.INTERMEDIATE and not wf.intermediate_answers:
            return "workflow.intermediate_answers is off"
        if step == Step.EXPLAIN and not (Outcome.EXPLAINED in wf.outcomes and self.uses(Event.EXPLANATION_NEEDED)):
            return "no 'explained' outcome with a timer started by 'explanation_needed'"
        if step == Step.ACCEPT_PART and not self.uses(Event.PART_ACCEPTED):
            return "no timer uses the 'part_accepted' event"
        if step == Step.TICK and not any(a.checklist for a in self.approval):
            return "no approval step has a checklist"
        return None

    def _check_duration(self, key: str, t: TimerSpec) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if (t.duration is None) == (t.relative is None):
            problems.append((f"{key}.duration", "give either duration or relative, exactly one"))
        if t.duration is not None and t.duration <= timedelta(0):
            problems.append((f"{key}.duration", "must be longer than zero"))
        if t.clock is Clock.WORKING_DAYS:
            for name, d in [("duration", t.duration), *((f"reminders[{j}]", r) for j, r in enumerate(t.reminders))]:
                if d is not None and d % timedelta(days=1):
                    problems.append((f"{key}.{name}", "a working_days clock counts whole days: write '3d'"))
        if t.relative is not None:
            rel = t.relative
            if (rel.before is None) == (rel.after is None):
                problems.append((f"{key}.relative", "give either before or after, exactly one"))
            if not any(o.id == rel.timer for o in self.timers if o is not t):
                problems.append((f"{key}.relative.timer", f"unknown timer {rel.timer!r}"))
        if t.at_least is not None and t.at_least.duration <= timedelta(0):
            problems.append((f"{key}.at_least.duration", "must be longer than zero"))
        if t.no_later_than and not any(o.id == t.no_later_than for o in self.timers if o is not t):
            problems.append((f"{key}.no_later_than", f"unknown timer {t.no_later_than!r}"))
        for j, r in enumerate(t.reminders):
            if r <= timedelta(0):
                reason = "a reminder comes before the deadline: use a positive offset"
                problems.append((f"{key}.reminders[{j}]", reason))
            elif t.duration is not None and r >= t.duration:
                problems.append((f"{key}.reminders[{j}]", f"'{format_duration(r)}' before the deadline is before "
                                 f"the timer starts (it runs {format_duration(t.duration)})"))
        return problems


def _list(items: set[str]) -> str:
    return ", ".join(sorted(items))
