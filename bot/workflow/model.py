"""Values of the workflow: incidents, their states, running timers, who acts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from bot.i18n import N_
from profiles.events import Outcome


class State(StrEnum):
    NEW = "new"  # accepted from intake, not yet sent to executors (or returned to be re-routed)
    ASSIGNED = "assigned"  # executors are preparing the answer
    REVIEW = "review"  # a draft is going through the approval chain
    REWORK = "rework"  # returned to the executor for rework
    APPROVED = "approved"  # agreed; waiting to be published
    AWAITING_FINAL = "awaiting_final"  # an intermediate answer is out; the final one is due
    CLARIFICATION = "clarification"  # waiting for the author to answer a question
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        return self is not State.CLOSED


STATE_TITLES_RU = {  # Russian, marked for the catalogs: translate on use (bot.texts.state_title)
    State.NEW: N_("ожидает направления"),
    State.ASSIGNED: N_("в работе у исполнителя"),
    State.REVIEW: N_("ответ на согласовании"),
    State.REWORK: N_("на доработке"),
    State.APPROVED: N_("согласован, ожидает размещения"),
    State.AWAITING_FINAL: N_("дан промежуточный ответ"),
    State.CLARIFICATION: N_("запрошено уточнение у автора"),
    State.CLOSED: N_("закрыт"),
}


@dataclass(frozen=True)
class Actor:
    """Who presses the button: the profile roles they hold and the departments they head."""

    user_id: int
    roles: frozenset[str] = frozenset()
    departments: frozenset[int] = frozenset()


@dataclass(frozen=True)
class RunningTimer:
    timer_id: str
    started_at: datetime  # the moment it counts from
    due_at: datetime
    department_id: int | None = None  # a co-executor's own timer
    paused_at: datetime | None = None
    remaining: timedelta | int | None = None  # time left on its clock while paused

    @property
    def key(self) -> tuple[str, int | None]:
        return (self.timer_id, self.department_id)


@dataclass(frozen=True)
class StoppedTimer:
    timer: RunningTimer
    stopped_at: datetime
    event: str  # the event that stopped it

    @property
    def late_by(self) -> timedelta:
        """How late the step was done (zero when on time); paused timers count from their pause."""
        return max(self.stopped_at - self.timer.due_at, timedelta(0))


@dataclass(frozen=True)
class Incident:
    id: int
    track: str
    state: State = State.NEW
    departments: tuple[int, ...] = ()  # assigned; the first is the lead
    step: int = 0  # index into the profile's approval chain while in REVIEW
    outcome: Outcome | None = None
    intermediate_given: bool = False
    resume_state: State | None = None  # where a clarification returns to
    parts_done: frozenset[int] = frozenset()
    parts_accepted: frozenset[int] = frozenset()  # co-executors' parts the coordinator passed to the lead
    event_times: dict[str, datetime] = field(default_factory=dict)  # the latest time of each event (+ core._carried)
    timers: tuple[RunningTimer, ...] = ()

    @property
    def lead(self) -> int | None:
        return self.departments[0] if self.departments else None

    @property
    def co_executors(self) -> tuple[int, ...]:
        return self.departments[1:]

    def timer(self, timer_id: str, department_id: int | None = None) -> RunningTimer | None:
        for t in self.timers:
            if t.timer_id == timer_id and t.department_id == department_id:
                return t
        return None
