"""The vocabulary profiles and the workflow core share: events, actions and outcomes.

A profile's timers start, stop, pause and resume on these events; its roles are granted these actions.
Approval steps add events of their own: ``approved:<step id>`` when that step agrees a draft.
"""

from __future__ import annotations

from enum import StrEnum


class Event(StrEnum):
    DETECTED = "detected"  # the message is found (the original post's time for a forward)
    ROUTED = "routed"  # sent to the executors (the thread is opened)
    RETURNED = "returned"  # an executor returned it: not our department's competence
    DRAFT_SUBMITTED = "draft_submitted"  # a (re)worked draft reached the reviewers
    DRAFT_WITHDRAWN = "draft_withdrawn"
    REWORK_REQUESTED = "rework_requested"  # a reviewer returned the draft for rework
    APPROVED = "approved"  # the whole approval chain agreed
    PUBLISHED = "published"  # the final answer is published: the incident is done
    INTERMEDIATE_PUBLISHED = "intermediate_published"  # an intermediate answer is published
    PART_SUBMITTED = "part_submitted"  # a co-executor sent their part
    PART_ACCEPTED = "part_accepted"  # the coordinator accepted it and passed it to the lead
    CLARIFICATION_REQUESTED = "clarification_requested"  # a question to the author is published
    CLARIFICATION_RECEIVED = "clarification_received"  # the author answered
    EXPLANATION_NEEDED = "explanation_needed"  # an explanation instead of an answer (Ю-С 3.7)
    CLOSED = "closed"  # ended without an answer (any outcome)


APPROVED_STEP_PREFIX = "approved:"


def approved_step(step_id: str) -> str:
    return f"{APPROVED_STEP_PREFIX}{step_id}"


class Action(StrEnum):
    INTAKE = "intake"  # sends messages to the bot
    ROUTE = "route"  # picks the departments, re-routes returned messages
    ANSWER = "answer"  # writes the draft as head of an assigned department
    RETURN = "return"  # returns a routed message as not the administration's competence (Первомайский п. 10)
    CORRECT = "correct"  # corrects a draft's text himself
    PUBLISH = "publish"  # publishes the answer (final or intermediate)
    CLARIFY = "clarify"  # asks the author a question, records the answer
    CLOSE = "close"  # ends an incident without an answer (an outcome)
    ESCALATIONS = "escalations"  # is told when a deadline passes; gets the digest
    REPORT = "report"  # asks for the monthly report


class Step(StrEnum):
    """What a person can do on an incident: the vocabulary of buttons. Which of them a profile offers, to whom
    and when follows from its roles, approval chain, outcomes, workflow switches and the events its timers use;
    a profile may rename a button or reword its question under ``[buttons.<step>]``."""

    ROUTE = "route"  # pick the departments (a message not yet routed, or returned)
    RETURN = "return"  # not our competence: back to the coordinator
    WITHDRAW = "withdraw"  # the author takes his draft back
    ACCEPT_PART = "accept_part"  # the coordinator agrees a co-executor's part and passes it to the lead
    TICK = "tick"  # tick a checklist item of the approval step
    APPROVE = "approve"
    REWORK = "rework"
    CORRECT = "correct"  # the reviewer sends the corrected text himself
    PUBLISH = "publish"
    INTERMEDIATE = "intermediate"  # an intermediate answer is published
    CLARIFY = "clarify"  # a question to the author is published: the clocks stop
    CLARIFIED = "clarified"  # the author answered: the clocks go on
    NO_REPLY = "no_reply"  # the author did not answer: the clocks go on
    EXPLAIN = "explain"  # an explanation is due instead of an answer (Ю-С п. 3.7)
    CLOSE = "close"  # end without an answer: one button per outcome, ``close.<outcome>`` in [buttons]


class Outcome(StrEnum):
    PUBLISHED = "published"
    NOT_PROCESSED = "not_processed"  # obscenity, threats, unreadable
    NOT_COMPETENT = "not_competent"  # not the administration's competence: redirected elsewhere
    FORMAL_APPEAL = "formal_appeal"  # converted to an appeal under 59-FZ
    EXPLAINED = "explained"  # an explanation was sent instead of an answer


def N_(message: str) -> str:  # marks a text for the catalogs (bot/i18n.py): profiles import no bot
    return message


OUTCOME_TITLES_RU = {  # Russian, marked for the catalogs: translate on use (bot.texts.outcome_title)
    Outcome.PUBLISHED: N_("ответ опубликован"),
    Outcome.NOT_PROCESSED: N_("не подлежит обработке"),
    Outcome.NOT_COMPETENT: N_("не относится к компетенции администрации"),
    Outcome.FORMAL_APPEAL: N_("переведено в обращение по 59-ФЗ"),
    Outcome.EXPLAINED: N_("дано разъяснение"),
}
