"""What a person may do on an incident now: the steps the profile declares, each checked by ``decide``.

Pure. The Telegram side renders these offers as buttons and prompts, whatever the regulation; it never
decides itself which step exists. A step exists when the profile declares it:

- approve, rework, correct and the checklist ticks: its approval chain (``[[approval]]``, ``checklist``);
- publish and the intermediate answer: a role with ``publish`` (and ``workflow.intermediate_answers``);
- return as not competent: a role with ``answer`` (the heads) or ``return``;
- one close button per ``workflow.outcomes`` entry; the explanation step when ``explained`` is an outcome;
- questions to the author: ``workflow.clarifications``;
- accepting a co-executor's part: a timer that uses the ``part_accepted`` event;
and is offered to whoever ``decide`` would let take it in the incident's state. Labels and questions
come from ``[buttons.<step>]`` in the profile, else from the defaults below.

    for offer in offers(profile, incident, actor): a button offer.label with (offer.step, offer.value)
    command = command_for(offer, text=what the person typed)  # then decide(...) again on the press
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.i18n import N_, _
from bot.workflow.core import (
    AcceptPart,
    Approve,
    ClarificationReceived,
    Close,
    Command,
    Correct,
    NeedExplanation,
    Publish,
    Refusal,
    RequestClarification,
    RequestRework,
    ReturnNotCompetent,
    Route,
    Tick,
    WithdrawDraft,
    decide,
)
from bot.workflow.model import Actor, Incident, State
from profiles.events import Event, Outcome, Step
from profiles.schema import Profile


class Needs(StrEnum):
    NOTHING = "nothing"
    TEXT = "text"  # a comment, a reason, a question or the author's reply, typed in the thread
    LINK = "link"  # the published answer's link (or "without a link")
    DEPARTMENTS = "departments"  # picked on a keyboard


class Place(StrEnum):
    """Where the button lives: on the card (the incident as a whole), under the answer being reviewed,
    under the approved text (publishing), under a co-executor's part."""

    CARD = "card"
    PICKER = "picker"  # the department picker, posted on its own (the route step)
    REVIEW = "review"
    PUBLISH = "publish"
    PART = "part"


@dataclass(frozen=True)
class Offer:
    step: Step
    value: int = 0  # the outcome's index, the checklist item, the department
    label: str = ""
    needs: Needs = Needs.NOTHING
    prompt: str = ""  # the question asked when the step needs text, in the current locale
    place: Place = Place.CARD
    style: str | None = None  # "success" | "danger" | "primary": Telegram colours the button
    checked: bool = False  # a ticked checklist item

    @property
    def key(self) -> tuple[str, int]:
        return (self.step.value, self.value)


# the generic vocabulary's words; a profile overrides them under [buttons.<step>]
_DEFAULTS: dict[str, tuple[str, str]] = {
    Step.ROUTE: (N_("📨 Направить"), ""),
    Step.RETURN: (N_("🚫 Не наша компетенция"), N_("Напишите в эту тему, почему вопрос не вашей компетенции.")),
    Step.WITHDRAW: (N_("🗑 Отозвать"), ""),
    Step.ACCEPT_PART: (N_("✅ Принять часть"), ""),
    Step.APPROVE: (N_("✅ Согласовать"), ""),
    Step.REWORK: (N_("↩️ На доработку"), N_("Напишите в эту тему, что доработать.")),
    Step.CORRECT: (N_("✏️ Исправить"), N_("Пришлите в эту тему исправленный текст ответа.")),
    Step.PUBLISH: (N_("📤 Опубликовано"), N_("Пришлите в эту тему ссылку на опубликованный ответ "
                                           "или нажмите «Без ссылки».")),
    Step.INTERMEDIATE: (N_("⏳ Промежуточный"), ""),
    Step.CLARIFY: (N_("❓ Вопрос автору"), N_("Напишите в эту тему вопрос, размещённый для автора.")),
    Step.CLARIFIED: (N_("💬 Автор ответил"), N_("Пришлите в эту тему ответ автора.")),
    Step.NO_REPLY: (N_("🔇 Автор не ответил"), ""),
    Step.EXPLAIN: (N_("💬 Нужно разъяснение"), ""),
}
_CLOSE_DEFAULTS: dict[Outcome, tuple[str, str]] = {
    Outcome.NOT_PROCESSED: (N_("⛔ Не обрабатывать"), N_("Напишите в эту тему, почему сообщение не обрабатывается.")),
    Outcome.NOT_COMPETENT: (N_("↪️ Не компетенция администрации"),
                            N_("Напишите в эту тему, куда перенаправлено сообщение и почему.")),
    Outcome.FORMAL_APPEAL: (N_("📄 Обращение по 59-ФЗ"),
                            N_("Напишите в эту тему: автор согласен, номер и дата регистрации обращения.")),
    Outcome.EXPLAINED: (N_("📤 Разъяснение направлено"), N_("Пришлите в эту тему текст или ссылку разъяснения.")),
}
_NEEDS: dict[Step, Needs] = {
    Step.RETURN: Needs.TEXT, Step.REWORK: Needs.TEXT, Step.CORRECT: Needs.TEXT, Step.PUBLISH: Needs.LINK,
    Step.CLARIFY: Needs.TEXT, Step.CLARIFIED: Needs.TEXT, Step.CLOSE: Needs.TEXT, Step.ROUTE: Needs.DEPARTMENTS,
}
_PLACE: dict[Step, Place] = {
    Step.WITHDRAW: Place.REVIEW, Step.TICK: Place.REVIEW, Step.APPROVE: Place.REVIEW, Step.REWORK: Place.REVIEW,
    Step.CORRECT: Place.REVIEW, Step.PUBLISH: Place.PUBLISH, Step.INTERMEDIATE: Place.PUBLISH,
    Step.ACCEPT_PART: Place.PART, Step.ROUTE: Place.PICKER,
}
_STYLE: dict[Step, str] = {Step.APPROVE: "success", Step.PUBLISH: "success", Step.REWORK: "danger"}
PLACEHOLDER = "…"  # stands for the text still to be typed when a step is checked before asking for it


def words(profile: Profile, step: Step, outcome: Outcome | None = None) -> tuple[str, str]:
    """(label, prompt) of a step in the current locale: the profile's own, else the default."""
    key = f"{step.value}.{outcome.value}" if outcome else step.value
    label, prompt = _CLOSE_DEFAULTS[outcome] if outcome else _DEFAULTS.get(step, ("", ""))
    own = profile.buttons.get(key)
    return (own.label if own and own.label else _(label) if label else "",
            own.prompt if own and own.prompt else _(prompt) if prompt else "")


def candidates(profile: Profile, incident: Incident, checked: frozenset[str] = frozenset()) -> list[Offer]:
    """Every step the profile declares that could apply to this incident, before asking who may take it."""
    wf = profile.workflow
    found: list[Offer] = []

    def add(step: Step, value: int = 0, outcome: Outcome | None = None, label: str = "", **kw: object) -> None:
        own_label, prompt = words(profile, step, outcome)
        found.append(Offer(step, value, label or own_label, _NEEDS.get(step, Needs.NOTHING), prompt,
                           _PLACE.get(step, Place.CARD), _STYLE.get(step), **kw))  # type: ignore[arg-type]

    if incident.state is State.NEW:
        add(Step.ROUTE)
    if incident.state is State.REVIEW and profile.approval:
        step = profile.approval[incident.step]
        for i, item in enumerate(step.checklist):
            mark = "☑" if item in checked else "☐"
            add(Step.TICK, i, label=f"{mark} {item}", checked=item in checked)
        add(Step.APPROVE)
        add(Step.REWORK)
        add(Step.CORRECT)
        add(Step.WITHDRAW)
    if incident.state is State.APPROVED:
        add(Step.CORRECT)
        add(Step.PUBLISH)
        if wf.intermediate_answers:
            add(Step.INTERMEDIATE)
    if incident.state in (State.ASSIGNED, State.REWORK):
        add(Step.RETURN)
        if profile.uses(Event.PART_ACCEPTED):
            for dep in incident.departments:
                if dep in incident.parts_done and dep not in incident.parts_accepted:
                    add(Step.ACCEPT_PART, dep)
    if wf.clarifications:
        if incident.state is State.CLARIFICATION:
            add(Step.CLARIFIED)
            add(Step.NO_REPLY)
        else:
            add(Step.CLARIFY)
    if Outcome.EXPLAINED in wf.outcomes and profile.uses(Event.EXPLANATION_NEEDED):
        add(Step.EXPLAIN)
    for i, outcome in enumerate(wf.outcomes):
        add(Step.CLOSE, i, outcome)
    return found


def command_for(profile: Profile, offer: Offer, text: str = PLACEHOLDER,
                checked: frozenset[str] = frozenset()) -> Command | None:
    """The core's command for a step; ``text`` is what the person typed for a step that needs it."""
    match offer.step:
        case Step.ROUTE:
            return Route((offer.value,))  # the departments are picked on a keyboard
        case Step.RETURN:
            return ReturnNotCompetent(text)
        case Step.WITHDRAW:
            return WithdrawDraft()
        case Step.ACCEPT_PART:
            return AcceptPart(offer.value)
        case Step.TICK:
            return Tick(offer.value, checked)
        case Step.APPROVE:
            return Approve(checked)
        case Step.REWORK:
            return RequestRework(text)
        case Step.CORRECT:
            return Correct()
        case Step.PUBLISH:
            return Publish()
        case Step.INTERMEDIATE:
            return Publish(intermediate=True)
        case Step.CLARIFY:
            return RequestClarification(text)
        case Step.CLARIFIED:
            return ClarificationReceived(text)
        case Step.NO_REPLY:
            return ClarificationReceived(answered=False)
        case Step.EXPLAIN:
            return NeedExplanation()
        case Step.CLOSE:
            outcomes = profile.workflow.outcomes
            return Close(outcomes[offer.value], text) if 0 <= offer.value < len(outcomes) else None
    return None


def find(profile: Profile, incident: Incident, step: str, value: int,
         checked: frozenset[str] = frozenset()) -> Offer | None:
    """The offer a pressed button stands for, if the profile declares it for this incident now."""
    return next((o for o in candidates(profile, incident, checked) if o.key == (step, value)), None)


def bare(step: str, value: int) -> Offer | None:
    """A pressed step that is not offered now, to ask the core why not; None for a code no step has."""
    try:
        return Offer(Step(step), value, needs=_NEEDS.get(Step(step), Needs.NOTHING), place=_PLACE.get(Step(step),
                                                                                                  Place.CARD))
    except ValueError:
        return None


def offers(profile: Profile, incident: Incident, actor: Actor, now: datetime,
           checked: frozenset[str] = frozenset()) -> list[Offer]:
    """What this person may do on the incident now."""
    return [o for o in candidates(profile, incident, checked)
            if _allowed(profile, incident, o, actor, now, checked)]


def offers_for_anyone(profile: Profile, incident: Incident, now: datetime,
                      checked: frozenset[str] = frozenset(), place: Place | None = None) -> list[Offer]:
    """What someone in the group may do now: the buttons a shared message carries (each press is re-checked
    for the presser). Every role of the profile is tried, as head of every department of the incident.
    ``place``: only the offers of that message (the others are not tried)."""
    everyone = [Actor(0, frozenset({role}), frozenset(incident.departments)) for role in profile.roles]
    return [o for o in candidates(profile, incident, checked) if (place is None or o.place is place)
            and any(_allowed(profile, incident, o, a, now, checked) for a in everyone)]


def _allowed(profile: Profile, incident: Incident, offer: Offer, actor: Actor, now: datetime,
             checked: frozenset[str]) -> bool:
    command = command_for(profile, offer, PLACEHOLDER, checked)
    if command is None:
        return False
    if isinstance(command, Approve) and profile.approval:  # offered while items are unticked: it says which
        command = Approve(frozenset(profile.approval[incident.step].checklist))
    if isinstance(command, ClarificationReceived) and not command.answered:
        command = ClarificationReceived(PLACEHOLDER)
    return not isinstance(decide(profile, incident, command, actor, now), Refusal)


def who_may(profile: Profile, offer: Offer, incident: Incident, now: datetime) -> list[str]:
    """The roles that may take this step now (for the README's table and for mentions)."""
    return [role for role in profile.roles
            if _allowed(profile, incident, offer, Actor(0, frozenset({role}), frozenset(incident.departments)),
                        now, frozenset())]


__all__ = ["Needs", "Offer", "Place", "bare", "candidates", "command_for", "find", "offers",
           "offers_for_anyone", "who_may", "words"]
