"""The workflow core: incidents, states, permissions and timers. Pure: no Telegram, no database."""

from bot.workflow.core import (
    AcceptPart,
    Approve,
    ClarificationReceived,
    Close,
    Command,
    Correct,
    Decision,
    NeedExplanation,
    Publish,
    Refusal,
    RequestClarification,
    RequestRework,
    ReturnNotCompetent,
    Route,
    SubmitDraft,
    SubmitPart,
    WithdrawDraft,
    current_step,
    decide,
    holds_role,
    may,
    open_incident,
)
from bot.workflow.model import STATE_TITLES_RU, Actor, Incident, RunningTimer, State, StoppedTimer

__all__ = [
    "STATE_TITLES_RU", "AcceptPart", "Actor", "Approve", "ClarificationReceived", "Close", "Command",
    "Correct", "Decision", "Incident", "NeedExplanation", "Publish", "Refusal", "RequestClarification",
    "RequestRework", "ReturnNotCompetent", "Route", "RunningTimer", "State", "StoppedTimer", "SubmitDraft",
    "SubmitPart", "WithdrawDraft", "current_step", "decide", "holds_role", "may", "open_incident",
]
