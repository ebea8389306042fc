"""Every Bot API answer has a decision (bot/outcomes.py): a table, plus the errors aiogram raises turned into
answers. No I/O: the same answers through the emulator are in tests/test_sender_faults.py."""

from datetime import timedelta

import pytest
from aiogram.exceptions import (
    ClientDecodeError,
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
from aiogram.methods import SendMessage

from bot.outcomes import (
    TRANSIENT_TRIES,
    UNKNOWN_TRIES,
    Answer,
    Done,
    GiveUp,
    Reroute,
    Retry,
    Wait,
    WithoutThread,
    backoff,
    decide,
)

M = SendMessage(chat_id=1, text="x")


def err(status: int | None, description: str = "", kind: str = "telegram", **kw) -> Answer:
    return Answer(ok=False, status=status, description=description, kind=kind, **kw)


@pytest.mark.parametrize(("method", "answer", "tries", "expected"), [
    ("sendMessage", Answer.success({"message_id": 5}), 1, Done({"message_id": 5})),
    ("sendMessage", err(429, "Too Many Requests: retry after 7", retry_after=7), 9, Wait(7)),
    ("sendMessage", err(400, "Bad Request: group chat was upgraded to a supergroup chat", migrate_to_chat_id=-1007),
     1, Reroute(-1007)),
    ("editMessageText", err(400, "Bad Request: message is not modified: specified new message content ..."), 1,
     Done(None)),
    ("closeForumTopic", err(400, "Bad Request: TOPIC_NOT_MODIFIED"), 1, Done(None)),
    ("editMessageText", err(400, "Bad Request: message to edit not found"), 1,
     GiveUp("Bad Request: message to edit not found", tell=False)),
    ("answerCallbackQuery", err(400, "Bad Request: query is too old and response timeout expired"), 1,
     GiveUp("Bad Request: query is too old and response timeout expired", tell=False)),
    ("sendMessage", err(400, "Bad Request: can't parse entities: unsupported start tag"), 1,
     GiveUp("Bad Request: can't parse entities: unsupported start tag")),
    ("sendMessage", err(400, "Bad Request: chat not found"), 1, GiveUp("Bad Request: chat not found")),
    ("sendMessage", err(403, "Forbidden: bot was blocked by the user"), 1,
     GiveUp("Forbidden: bot was blocked by the user")),
    ("sendMessage", err(413, "Request Entity Too Large"), 1, GiveUp("Request Entity Too Large")),
    ("sendMessage", err(500, "Internal Server Error"), 1, Retry(timedelta(seconds=1), "500 Internal Server Error")),
    ("sendMessage", err(502, "Bad Gateway"), 3, Retry(timedelta(seconds=4), "502 Bad Gateway")),
    ("sendMessage", err(502, "Failed to decode object", kind="garbled"), 2,
     Retry(timedelta(seconds=2), "502 (not JSON)")),
    ("sendMessage", err(None, "Request timeout error", kind="timeout"), 1,
     Retry(timedelta(seconds=1), "no answer: Request timeout error", maybe_sent=True)),
    ("editMessageText", err(None, "Request timeout error", kind="timeout"), 1,
     Retry(timedelta(seconds=1), "no answer: Request timeout error", maybe_sent=False)),
    ("createForumTopic", err(None, "ServerDisconnectedError: Server disconnected", kind="network"), 1,
     Retry(timedelta(seconds=1), "no answer: ServerDisconnectedError: Server disconnected", maybe_sent=True)),
    ("sendMessage", err(None, "ClientConnectorError: Cannot connect to host 127.0.0.1:1", kind="network"), 1,
     Retry(timedelta(seconds=1), "no answer: ClientConnectorError: Cannot connect to host 127.0.0.1:1")),
    ("sendMessage", err(404, "Not Found"), 1, Retry(timedelta(seconds=1), "404 Not Found")),
    ("sendMessage", err(404, "Not Found"), UNKNOWN_TRIES, GiveUp(f"404 Not Found ({UNKNOWN_TRIES} tries)")),
    ("sendMessage", err(409, "Conflict"), UNKNOWN_TRIES, GiveUp(f"409 Conflict ({UNKNOWN_TRIES} tries)")),
    ("sendMessage", err(200, "Failed to deserialize object", kind="garbled"), 1,
     Retry(timedelta(seconds=1), "an answer that could not be read (200)", maybe_sent=True)),
    ("sendMessage", err(None, "ValueError: bad", kind="local"), 1, GiveUp("not sent: ValueError: bad")),
    ("sendMessage", err(418, "I'm a teapot"), UNKNOWN_TRIES - 1,
     Retry(backoff(UNKNOWN_TRIES - 1), "418 I'm a teapot")),
    ("sendMessage", err(401, "Unauthorized"), 50,
     Retry(timedelta(minutes=5), "401 Unauthorized: is BOT_TOKEN still valid?")),
])
def test_every_answer_has_a_decision(method, answer, tries, expected):
    assert decide(method, answer, tries) == expected


def test_a_gone_topic_sends_to_the_group_only_when_the_call_names_one():
    gone = err(400, "Bad Request: message thread not found")
    assert decide("sendMessage", gone, 1, has_thread=True) == WithoutThread()
    assert isinstance(decide("sendMessage", gone, 1, has_thread=False), GiveUp)


def test_a_lasting_5xx_is_given_up_only_while_other_calls_get_through():
    answer = err(500, "Internal Server Error")
    assert isinstance(decide("sendMessage", answer, TRANSIENT_TRIES, telegram_up=False), Retry)  # an outage: wait
    assert isinstance(decide("sendMessage", answer, TRANSIENT_TRIES, telegram_up=True), GiveUp)  # this call's fault
    assert isinstance(decide("sendMessage", answer, TRANSIENT_TRIES - 1, telegram_up=True), Retry)


def test_backoff_doubles_up_to_five_minutes():
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4, 9, 10, 50)] == [1, 2, 4, 8, 256, 300, 300]


@pytest.mark.parametrize(("error", "expected"), [
    (TelegramRetryAfter(M, "Too Many Requests: retry after 5", 5), dict(status=429, retry_after=5)),
    (TelegramMigrateToChat(M, "group chat was upgraded", -100200), dict(status=400, migrate_to_chat_id=-100200)),
    (TelegramBadRequest(M, "Bad Request: chat not found"), dict(status=400)),
    (TelegramUnauthorizedError(M, "Unauthorized"), dict(status=401)),
    (TelegramForbiddenError(M, "Forbidden: bot was kicked"), dict(status=403)),
    (TelegramNotFound(M, "Not Found"), dict(status=404)),
    (TelegramConflictError(M, "Conflict"), dict(status=409)),
    (TelegramEntityTooLarge(M, "Request Entity Too Large"), dict(status=413, kind="telegram")),
    (TelegramServerError(M, "Bad Gateway"), dict(status=500)),
    (TelegramNetworkError(M, "Request timeout error"), dict(status=None, kind="timeout")),
    (TelegramNetworkError(M, "ClientConnectorError: Cannot connect"), dict(status=None, kind="network")),
    (ClientDecodeError("Failed to decode object", ValueError("x"), "<html>"), dict(status=None, kind="garbled")),
    (TimeoutError(), dict(status=None, kind="timeout")),
    (ConnectionResetError("reset"), dict(status=None, kind="network")),
    (ValueError("a bug"), dict(status=None, kind="local")),
])
def test_errors_become_answers(error, expected):
    answer = Answer.from_error(error)
    assert not answer.ok
    assert {k: getattr(answer, k) for k in expected} == expected


def test_the_status_the_session_kept_wins():
    error = TelegramServerError(M, "Service Unavailable")
    error.status_code = 503  # set by bot.app.Session
    assert Answer.from_error(error).status == 503
    garbled = ClientDecodeError("Failed to decode object", ValueError("x"), "<html>502</html>")
    garbled.status_code = 502  # type: ignore[attr-defined]
    assert Answer.from_error(garbled).status == 502
