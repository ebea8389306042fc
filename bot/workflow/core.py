"""The workflow core: what a step does to an incident, who may take it, which timers it moves.

Pure: every function takes the profile and ``now`` and returns values. The application layer stores
the new incident and its timers in one transaction and renders the events for people.

    decision = decide(profile, incident, Approve(), actor, now)
    if isinstance(decision, Refusal): tell the presser decision.reason, change nothing
    else: store decision.incident, decision.started / decision.stopped, announce decision.events
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from bot.i18n import _, lower_first
from bot.workflow.model import STATE_TITLES_RU, Actor, Incident, RunningTimer, State, StoppedTimer
from profiles.deadlines import due_at
from profiles.events import Action, Event, Outcome, approved_step
from profiles.schema import ApprovalStep, Profile, TimerSpec

# --- commands: what people ask for ---------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    departments: tuple[int, ...]  # the first is the lead


@dataclass(frozen=True)
class ReturnNotCompetent:
    reason: str


@dataclass(frozen=True)
class SubmitDraft:
    pass


@dataclass(frozen=True)
class WithdrawDraft:
    pass


@dataclass(frozen=True)
class SubmitPart:
    department_id: int


@dataclass(frozen=True)
class AcceptPart:
    department_id: int


@dataclass(frozen=True)
class Approve:
    checked: frozenset[str] = frozenset()  # ticked checklist items of the current step


@dataclass(frozen=True)
class Tick:
    item: int  # index into the current approval step's checklist
    checked: frozenset[str] = frozenset()  # what is ticked now; the tick toggles the item


@dataclass(frozen=True)
class RequestRework:
    comment: str


@dataclass(frozen=True)
class Correct:
    pass


@dataclass(frozen=True)
class Publish:
    intermediate: bool = False


@dataclass(frozen=True)
class RequestClarification:
    question: str = ""


@dataclass(frozen=True)
class ClarificationReceived:
    reply: str = ""  # the author's answer; empty when he did not answer
    answered: bool = True


@dataclass(frozen=True)
class NeedExplanation:
    pass


@dataclass(frozen=True)
class Close:
    outcome: Outcome
    reason: str = ""


Command = (
    Route | ReturnNotCompetent | SubmitDraft | WithdrawDraft | SubmitPart | AcceptPart | Approve | Tick
    | RequestRework | Correct | Publish | RequestClarification | ClarificationReceived | NeedExplanation
    | Close
)

# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    incident: Incident
    events: tuple[str, ...]
    started: tuple[RunningTimer, ...] = ()
    stopped: tuple[StoppedTimer, ...] = ()
    paused: tuple[RunningTimer, ...] = ()


@dataclass(frozen=True)
class Refusal:
    reason: str  # for the person, in the presser's language (decided while his locale is set)


# --- opening ---------------------------------------------------------------------------------


def open_incident(profile: Profile, incident_id: int, source_id: str, detected_at: datetime,
                  now: datetime) -> Decision:
    """A message accepted at intake: the incident exists, its first timers run from detection."""
    track = profile.source(source_id).track
    incident = Incident(id=incident_id, track=track)
    return _apply(profile, incident, [(Event.DETECTED.value, detected_at)], now)


# --- deciding --------------------------------------------------------------------------------

OPEN_WORK = (State.ASSIGNED, State.REWORK, State.AWAITING_FINAL)


def decide(profile: Profile, incident: Incident, command: Command, actor: Actor,
           now: datetime) -> Decision | Refusal:
    """Apply one command, or refuse it with a reason and change nothing."""
    if incident.state is State.CLOSED:
        return Refusal(_("Инцидент уже закрыт."))
    check = _permission(profile, incident, command, actor)
    if check is not None:
        return Refusal(check)
    match command:
        case Route(departments):
            if incident.state is not State.NEW:
                return Refusal(_("Инцидент уже направлен исполнителям."))
            if not departments or len(set(departments)) != len(departments):
                return Refusal(_("Выберите отделы-исполнители (без повторов)."))
            new = replace(incident, state=State.ASSIGNED, departments=tuple(departments), parts_done=frozenset())
            return _apply(profile, new, [(Event.ROUTED, now)], now)
        case ReturnNotCompetent(reason):
            if incident.state not in (State.ASSIGNED, State.REWORK):
                return Refusal(_("Вернуть можно только инцидент в работе."))
            if not reason.strip():
                return Refusal(_("Укажите причину возврата."))
            new = replace(incident, state=State.NEW, departments=(), parts_done=frozenset(),
                          parts_accepted=frozenset())
            return _apply(profile, new, [(Event.RETURNED, now)], now)
        case SubmitDraft():
            if incident.state not in OPEN_WORK:
                return Refusal(_not_now(incident))
            new = replace(incident, state=State.REVIEW, step=0)
            return _apply(profile, new, [(Event.DRAFT_SUBMITTED, now)], now)
        case WithdrawDraft():
            if incident.state is not State.REVIEW:
                return Refusal(_("Отзывать нечего: ответ не на согласовании."))
            back = State.AWAITING_FINAL if incident.intermediate_given else State.ASSIGNED
            new = replace(incident, state=back, step=0)
            return _apply(profile, new, [(Event.DRAFT_WITHDRAWN, now)], now)
        case SubmitPart(dep):
            if incident.state not in (State.ASSIGNED, State.REWORK):
                return Refusal(_not_now(incident))
            if dep in incident.parts_done:
                return Refusal(_("Часть этого отдела уже представлена."))
            new = replace(incident, parts_done=incident.parts_done | {dep})
            return _apply(profile, new, [(Event.PART_SUBMITTED, now)], now, department=dep)
        case AcceptPart(dep):
            if dep not in incident.parts_done:
                return Refusal(_("Эта часть ещё не представлена."))
            if dep in incident.parts_accepted:
                return Refusal(_("Эта часть уже принята."))
            if incident.state not in (State.ASSIGNED, State.REWORK):
                return Refusal(_not_now(incident))
            new = replace(incident, parts_accepted=incident.parts_accepted | {dep})
            return _apply(profile, new, [(Event.PART_ACCEPTED, now)], now, department=dep)
        case Tick(item, checked):
            step = profile.approval[incident.step]
            if not 0 <= item < len(step.checklist):
                return Refusal(_("Нет такого пункта проверки."))
            name = step.checklist[item]
            event = f"unchecked:{step.id}:{item}" if name in checked else f"checked:{step.id}:{item}"
            return Decision(incident, (event,))
        case Approve(checked):
            if incident.state is not State.REVIEW:
                return Refusal(_("Согласовывать нечего: ответа на согласовании нет."))
            step = profile.approval[incident.step]
            missing = [item for item in step.checklist if item not in checked]
            if missing:
                return Refusal(_("Отметьте пункты проверки: {items}").format(items="; ".join(missing)))
            events: list[tuple[str, datetime]] = [(approved_step(step.id), now)]
            if incident.step + 1 < len(profile.approval):
                new = replace(incident, step=incident.step + 1)
            else:
                new = replace(incident, state=State.APPROVED, step=0)
                events.append((Event.APPROVED, now))
            return _apply(profile, new, events, now)
        case RequestRework(comment):
            if incident.state is not State.REVIEW:
                return Refusal(_("Вернуть на доработку можно только ответ на согласовании."))
            if not comment.strip():
                return Refusal(_("Напишите, что доработать."))
            new = replace(incident, state=State.REWORK, step=0)
            return _apply(profile, new, [(Event.REWORK_REQUESTED, now)], now)
        case Correct():
            if incident.state not in (State.REVIEW, State.APPROVED):
                return Refusal(_("Исправлять нечего: ответа на согласовании нет."))
            return Decision(incident, ())
        case Publish(intermediate):
            if incident.state is not State.APPROVED:
                return Refusal(_("Разместить можно только согласованный ответ."))
            if intermediate:
                if not profile.workflow.intermediate_answers:
                    return Refusal(_("Промежуточные ответы этим регламентом не предусмотрены."))
                new = replace(incident, state=State.AWAITING_FINAL, intermediate_given=True)
                return _apply(profile, new, [(Event.INTERMEDIATE_PUBLISHED, now)], now)
            new = replace(incident, state=State.CLOSED, outcome=Outcome.PUBLISHED)
            return _apply(profile, new, [(Event.PUBLISHED, now)], now, close=True)
        case RequestClarification():
            if not profile.workflow.clarifications:
                return Refusal(_("Запрос уточнения этим регламентом не предусмотрен."))
            if incident.state not in (State.NEW, *OPEN_WORK):
                return Refusal(_not_now(incident))
            new = replace(incident, state=State.CLARIFICATION, resume_state=incident.state)
            return _apply(profile, new, [(Event.CLARIFICATION_REQUESTED, now)], now)
        case ClarificationReceived(reply, answered):
            if incident.state is not State.CLARIFICATION:
                return Refusal(_("Уточнение не запрашивалось."))
            if answered and not reply.strip():
                return Refusal(_("Приведите ответ автора."))
            new = replace(incident, state=incident.resume_state or State.ASSIGNED, resume_state=None)
            return _apply(profile, new, [(Event.CLARIFICATION_RECEIVED, now)], now)
        case NeedExplanation():
            if Outcome.EXPLAINED not in profile.workflow.outcomes:
                return Refusal(_("Разъяснения этим регламентом не предусмотрены."))
            if Event.EXPLANATION_NEEDED.value in incident.event_times:
                return Refusal(_("Разъяснение уже готовится."))
            if incident.state is State.CLARIFICATION:
                return Refusal(_not_now(incident))
            return _apply(profile, incident, [(Event.EXPLANATION_NEEDED, now)], now)
        case Close(outcome, reason):
            if outcome is Outcome.PUBLISHED or outcome not in profile.workflow.outcomes:
                return Refusal(_("Такой исход этим регламентом не предусмотрен."))
            if (outcome is Outcome.EXPLAINED and profile.uses(Event.EXPLANATION_NEEDED)
                    and Event.EXPLANATION_NEEDED.value not in incident.event_times):
                return Refusal(_("Сначала отметьте, что нужно разъяснение."))
            if not reason.strip():
                return Refusal(_("Укажите причину."))
            new = replace(incident, state=State.CLOSED, outcome=outcome)
            return _apply(profile, new, [(Event.CLOSED, now)], now, close=True)
    raise TypeError(f"unknown command {command!r}")


def _not_now(incident: Incident) -> str:
    return _("Сейчас это сделать нельзя: инцидент {state}.").format(state=_(STATE_TITLES_RU[incident.state]))


# --- permissions -------------------------------------------------------------------------------

_ACTION_OF: dict[type, Action] = {
    Route: Action.ROUTE,
    AcceptPart: Action.ROUTE,
    ReturnNotCompetent: Action.ANSWER,  # or Action.RETURN: see _permission
    SubmitDraft: Action.ANSWER,
    WithdrawDraft: Action.ANSWER,
    SubmitPart: Action.ANSWER,
    Correct: Action.CORRECT,
    Publish: Action.PUBLISH,
    RequestClarification: Action.CLARIFY,
    ClarificationReceived: Action.CLARIFY,
    NeedExplanation: Action.CLOSE,
    Close: Action.CLOSE,
}


def current_step(profile: Profile, incident: Incident) -> ApprovalStep | None:
    if incident.state is State.REVIEW and profile.approval:
        return profile.approval[incident.step]
    return None


def holds_role(profile: Profile, actor: Actor, role_id: str) -> bool:
    """The actor holds the role itself or a role that acts for it (a substitute)."""
    return any(r == role_id or profile.roles[r].acts_for == role_id for r in actor.roles if r in profile.roles)


def may(profile: Profile, actor: Actor, action: Action) -> bool:
    return any(action in profile.effective_actions(r) for r in actor.roles if r in profile.roles)


def joint_answer(profile: Profile, incident: Incident) -> bool:
    """Several departments and a role that compiles their parts into one answer (Первомайский р-н п. 17):
    every department then sends a part, and that role writes the draft."""
    return bool(profile.workflow.joint_answer_by) and len(incident.departments) > 1


def _permission(profile: Profile, incident: Incident, command: Command, actor: Actor) -> str | None:
    """None when the actor may do it; else the reason they may not."""
    if isinstance(command, Approve | RequestRework | Tick):
        step = current_step(profile, incident)
        if step is None:
            return _("Согласовывать нечего: ответа на согласовании нет.")
        if not holds_role(profile, actor, step.role):
            return _("Это решение принимает {role}.").format(role=lower_first(profile.roles[step.role].title))
        return None
    if isinstance(command, ReturnNotCompetent) and may(profile, actor, Action.RETURN):
        return None
    if isinstance(command, SubmitDraft | WithdrawDraft) and joint_answer(profile, incident):
        role = profile.workflow.joint_answer_by
        assert role is not None
        if holds_role(profile, actor, role):
            return None
        return _("Общий ответ готовит {role}.").format(role=lower_first(profile.roles[role].title))
    action = _ACTION_OF[type(command)]
    if not may(profile, actor, action):
        who = ", ".join(lower_first(profile.roles[r].title) for r in profile.roles_with(action)) or _("никто")
        return _("Это может сделать только {who}.").format(who=who)
    if action is Action.ANSWER:
        if isinstance(command, SubmitPart):
            contributors = incident.departments if joint_answer(profile, incident) else incident.co_executors
            if command.department_id not in contributors or command.department_id not in actor.departments:
                return _("Часть ответа представляет руководитель отдела-соисполнителя.")
        elif isinstance(command, SubmitDraft | WithdrawDraft):
            if incident.lead not in actor.departments:
                return _("Ответ представляет руководитель ответственного отдела.")
        elif not set(incident.departments) & actor.departments:
            return _("Вы не руководитель отдела, которому направлен инцидент.")
    return None


# --- timers ------------------------------------------------------------------------------------


def _apply(profile: Profile, incident: Incident, events: list[tuple[str, datetime]], now: datetime,
           department: int | None = None, close: bool = False) -> Decision:
    """Record the events and move the timers they start, stop, pause and resume."""
    times = dict(incident.event_times)
    running = {t.key: t for t in incident.timers}
    started: list[RunningTimer] = []
    stopped: list[StoppedTimer] = []
    paused: list[RunningTimer] = []
    specs = profile.timers_for(incident.track)
    clock = profile.clock

    for event, at in events:
        event = str(event)
        times[event] = at
        for spec in specs:
            for key, timer in list(running.items()):
                if key[0] != spec.id:
                    continue
                if event in spec.stop and _stops(event, timer, department):
                    del running[key]
                    stopped.append(StoppedTimer(timer, at, event))
                    if spec.count_from and timer.paused_at is None:  # a restart from the same moment keeps it
                        times[_carried("from", key)], times[_carried("due", key)] = timer.started_at, timer.due_at
                elif event in spec.pause and timer.paused_at is None:
                    left = clock.between(at, timer.due_at, spec.clock)
                    running[key] = replace(timer, paused_at=at, remaining=left)
                    paused.append(running[key])
                elif event in spec.resume and timer.paused_at is not None:
                    due = clock.add(at, timer.remaining, spec.clock) if timer.remaining is not None else timer.due_at
                    running[key] = replace(timer, paused_at=None, remaining=None, due_at=due.astimezone(profile.tz))
                    started.append(running[key])
        for spec in specs:
            if event not in spec.start:
                continue
            for dep in _instances(profile, spec, incident, event, department):
                timer = _start(profile, spec, times, at, running, dep)
                running[timer.key] = timer
                started.append(timer)

    if close:
        for key, timer in list(running.items()):
            del running[key]
            stopped.append(StoppedTimer(timer, now, events[-1][0]))
    new = replace(incident, event_times=times, timers=tuple(running.values()))
    return Decision(new, tuple(str(e) for e, _at in events), tuple(started), tuple(stopped), tuple(paused))


def _stops(event: str, timer: RunningTimer, department: int | None) -> bool:
    """An event about one co-executor's part stops that co-executor's timer only; others stop them all."""
    if event in _PER_DEPARTMENT and timer.department_id is not None and department is not None:
        return timer.department_id == department
    return True


_PER_DEPARTMENT = (Event.PART_SUBMITTED, Event.PART_ACCEPTED)


def _instances(profile: Profile, spec: TimerSpec, incident: Incident, event: str,
               department: int | None) -> list[int | None]:
    """Which copies of a timer an event starts: one per contributor of a part for per-co-executor timers —
    the co-executors, or every department when one role compiles a joint answer (Первомайский р-н п. 17:
    «каждым исполнителем») — only the event's own department when the event is about one part."""
    if spec.per != "co_executor":
        return [None]
    if event in _PER_DEPARTMENT and department is not None:
        return [department]
    contributors = incident.departments if joint_answer(profile, incident) else incident.co_executors
    return [d for d in contributors if d not in incident.parts_done]


def _start(profile: Profile, spec: TimerSpec, times: dict[str, datetime], at: datetime,
           running: dict[tuple[str, int | None], RunningTimer], department: int | None) -> RunningTimer:
    start = times.get(spec.count_from, at) if spec.count_from else at

    def other(timer_id: str) -> datetime | None:
        t = running.get((timer_id, None))
        return t.due_at if t is not None else None

    key = (spec.id, department)
    if spec.count_from and times.get(_carried("from", key)) == start:  # the same deadline, its pauses included
        return RunningTimer(spec.id, start, times[_carried("due", key)], department)
    return RunningTimer(spec.id, start, due_at(profile, spec, start, other), department)


def _carried(what: str, key: tuple[str, int | None]) -> str:
    """A timer counted from an earlier event (``count_from``) is restarted from that same moment (a withdrawn
    draft, Елец п. 6): it keeps the deadline its last run had, which includes the time it stood paused. The
    incident remembers it among its times: "from:<timer>" (where that run counted from) and "due:<timer>"."""
    timer_id, department = key
    return f"{what}:{timer_id}" if department is None else f"{what}:{timer_id}:{department}"
