"""What a Bot API answer means for an outbox row: a pure function that any sender loop can use.

    answer = Answer.from_error(exc)            # or Answer.ok(result)
    decision = decide(method, answer, tries, telegram_up=...)

Every answer falls into one of these decisions, so no row can block its chat's queue:

    Done(result)               Telegram did it (or it already was so: "message is not modified")
    Wait(seconds)              429: nothing goes to this chat before then (not counted as a try)
    Retry(after, maybe_sent)   try again after a backoff (5xx, network, time-outs, unknown answers); a bounded
                               number of tries, then GiveUp. ``maybe_sent``: the call may have been carried out
                               (no answer in time): the retry is flagged so a duplicate can be noticed
    Reroute(chat_id)           the group became a supergroup: move the group, its incidents and its queue to
                               the new id and try again at once
    WithoutThread              the topic is gone or closed: the message goes to the group itself
    GiveUp(reason, tell)       never: a dead letter, logged; ``tell``: the bot's administrator is told once

Nothing here does I/O; the table tests are in tests/test_outcomes.py.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)

# Calls that make something new in Telegram: repeating one after Telegram did it shows a duplicate, so they
# get a long time-out (Telegram's slow answers are seconds; a minute and more is an outage) and a retry
# after a time-out is flagged "maybe sent".
CREATING = frozenset({
    "sendMessage", "sendPhoto", "sendVideo", "sendDocument", "sendAudio", "sendAnimation", "sendVoice",
    "sendMediaGroup", "copyMessage", "copyMessages", "forwardMessage", "forwardMessages", "createForumTopic",
})
CREATING_TIMEOUT = 120.0  # seconds
OTHER_TIMEOUT = 30.0  # edits, answers, closing topics: repeating them changes nothing

TRANSIENT_TRIES = 12  # 5xx and network: about 25 minutes of backoff, then given up if other calls get through
UNKNOWN_TRIES = 5  # answers nobody planned for (a 404 from a self-hosted server, a garbled 200...)


@dataclass(frozen=True)
class Answer:
    """A Bot API answer, or the lack of one, as plain values."""

    ok: bool
    result: Any = None
    status: int | None = None  # the HTTP status / error_code; None when there was no answer
    description: str = ""
    retry_after: int | None = None
    migrate_to_chat_id: int | None = None
    kind: str = "telegram"  # telegram | timeout | network | garbled | local

    @classmethod
    def success(cls, result: Any) -> Answer:
        return cls(ok=True, result=result, status=200)

    @classmethod
    def from_error(cls, error: BaseException) -> Answer:
        if isinstance(error, TelegramRetryAfter):
            return cls(ok=False, status=429, description=error.message, retry_after=error.retry_after)
        if isinstance(error, TelegramMigrateToChat):
            return cls(ok=False, status=400, description=error.message,
                       migrate_to_chat_id=error.migrate_to_chat_id)
        if isinstance(error, TelegramEntityTooLarge):  # aiogram files it under network errors
            return cls(ok=False, status=413, description=error.message)
        if isinstance(error, TelegramNetworkError):
            timeout = "timeout" in error.message.lower()
            return cls(ok=False, description=error.message, kind="timeout" if timeout else "network")
        if isinstance(error, TelegramAPIError):
            return cls(ok=False, status=_status(error), description=error.message)
        if isinstance(error, ClientDecodeError):  # e.g. a proxy's HTML page instead of Telegram's JSON
            return cls(ok=False, status=getattr(error, "status_code", None), description=error.message,
                       kind="garbled")
        if isinstance(error, asyncio.TimeoutError | TimeoutError):
            return cls(ok=False, description="no answer in time", kind="timeout")
        if isinstance(error, OSError):
            return cls(ok=False, description=f"{type(error).__name__}: {error}", kind="network")
        return cls(ok=False, description=f"{type(error).__name__}: {error}", kind="local")


# --- decisions ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Done:
    result: Any


@dataclass(frozen=True)
class Wait:
    seconds: int


@dataclass(frozen=True)
class Retry:
    after: timedelta
    reason: str
    maybe_sent: bool = False


@dataclass(frozen=True)
class Reroute:
    chat_id: int


@dataclass(frozen=True)
class WithoutThread:
    pass


@dataclass(frozen=True)
class GiveUp:
    reason: str
    tell: bool = True  # the administrator is told; False for what needs nobody (an edit of a deleted message)


Decision = Done | Wait | Retry | Reroute | WithoutThread | GiveUp

_NOT_MODIFIED = ("message is not modified", "topic_not_modified")
_NO_THREAD = ("message thread not found", "topic_closed", "topic closed", "topic_deleted", "topic deleted")
_QUIET = ("message to edit not found", "message can't be edited", "message_id_invalid", "message to delete not found",
          "message can't be deleted", "query is too old", "query id is invalid", "message to pin not found",
          "message to unpin not found")


def backoff(tries: int) -> timedelta:
    """1 s, 2 s, 4 s … up to 5 minutes between tries of a failing call."""
    return timedelta(seconds=min(300, 2 ** max(min(tries - 1, 9), 0)))


def decide(method: str, answer: Answer, tries: int, *, telegram_up: bool = True,
           has_thread: bool = False) -> Decision:
    """What to do with an outbox row after its ``tries``-th try got ``answer``.

    ``telegram_up``: other calls got through lately (a 5xx that lasts is then this call's own problem, not an
    outage); ``has_thread``: the call names a topic (message_thread_id)."""
    if answer.ok:
        return Done(answer.result)
    text = answer.description.lower()
    maybe = method in CREATING
    if answer.retry_after is not None:
        return Wait(max(int(answer.retry_after), 1))
    if answer.migrate_to_chat_id is not None:
        return Reroute(answer.migrate_to_chat_id)
    if answer.kind == "local":  # our own side (a payload Telegram never saw, a file gone): trying again won't help
        return GiveUp(f"not sent: {answer.description}")
    if answer.kind in ("timeout", "network"):
        # A time-out, or a connection dropped after the request went out: Telegram may have done it.
        sent = maybe and (answer.kind == "timeout" or not _never_arrived(text))
        return _transient(tries, f"no answer: {answer.description}", telegram_up, maybe_sent=sent)
    if answer.kind == "garbled":
        if answer.status is not None and answer.status >= 500:  # a proxy's error page: Telegram is away
            return _transient(tries, f"{answer.status} (not JSON)", telegram_up)
        return _unknown(tries, f"an answer that could not be read ({answer.status})", maybe_sent=maybe)
    status = answer.status or 0
    if any(s in text for s in _NOT_MODIFIED):
        return Done(None)
    if status == 400:
        if any(s in text for s in _NO_THREAD) and has_thread:
            return WithoutThread()
        if any(s in text for s in _QUIET):
            return GiveUp(answer.description, tell=False)
        return GiveUp(answer.description)
    if status == 403:  # blocked by the user, kicked from the group, never started
        return GiveUp(answer.description)
    if status == 401:  # the token was revoked: nothing goes anywhere; wait for the deployer, lose nothing
        return Retry(timedelta(minutes=5), "401 Unauthorized: is BOT_TOKEN still valid?")
    if status == 413:
        return GiveUp(answer.description or "the file is too large")
    if status >= 500:
        return _transient(tries, f"{status} {answer.description}", telegram_up)
    return _unknown(tries, f"{status} {answer.description}")  # 404 (a self-hosted server), 409, anything else


def _transient(tries: int, reason: str, telegram_up: bool, maybe_sent: bool = False) -> Decision:
    if tries >= TRANSIENT_TRIES and telegram_up:  # other calls get through: this one is the problem
        return GiveUp(f"{reason} ({tries} tries)")
    return Retry(backoff(tries), reason, maybe_sent)


def _unknown(tries: int, reason: str, maybe_sent: bool = False) -> Decision:
    if tries >= UNKNOWN_TRIES:
        return GiveUp(f"{reason} ({tries} tries)")
    return Retry(backoff(tries), reason, maybe_sent)


def _never_arrived(text: str) -> bool:
    """A connection that could not be made: the request never reached Telegram."""
    return text.startswith("clientconnectorerror") or "cannot connect to host" in text


_STATUSES = ((TelegramBadRequest, 400), (TelegramUnauthorizedError, 401), (TelegramForbiddenError, 403),
             (TelegramNotFound, 404), (TelegramConflictError, 409), (TelegramServerError, 500))


def _status(error: TelegramAPIError) -> int | None:
    """The HTTP status the session kept (bot/app.py), else the one aiogram's class stands for."""
    kept = getattr(error, "status_code", None)
    if kept is not None:
        return int(kept)
    return next((status for cls, status in _STATUSES if isinstance(error, cls)), None)
