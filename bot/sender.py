"""The one sender: delivers the outbox in order per chat, under Telegram's limits, and survives every answer.

- In order per chat: only the oldest pending call of a chat is tried; the next waits for it.
- Limits: at most one call a second into a chat, 20 a minute into a group, 30 a second overall.
- Every answer has a decision (bot/outcomes.py): done, wait (429), retry with backoff (a bounded number of
  tries), move to the supergroup's new id, send without the gone topic, or give up (a dead letter: logged, and
  the bot's administrator told once a day per chat). Whatever Telegram says, the chat's queue moves on.
- Each try is recorded before the call ("in flight") and its outcome right after. So a full disk sends
  nothing (the first write fails) and repeats nothing (an outcome that cannot be written is kept in memory and
  written when the disk has room, never sent again); and a bot killed mid-call knows at the next start which
  call may have been carried out: it is resent flagged "maybe sent", and the resend checks for a duplicate.
- A graceful stop lets the call in flight finish (``stop(grace)``) and records its outcome before the HTTP
  session is closed; a call still unanswered after the grace is recorded "maybe sent".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict, deque
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from html import escape
from typing import Any

from aiogram import Bot, methods
from aiogram.exceptions import TelegramAPIError
from aiogram.types import FSInputFile
from pydantic import ValidationError

from bot.admins import Administrators
from bot.aio import wait_any
from bot.clock import Clock
from bot.i18n import _, use
from bot.outcomes import (
    CREATING,
    CREATING_TIMEOUT,
    OTHER_TIMEOUT,
    Answer,
    Decision,
    Done,
    GiveUp,
    Reroute,
    Retry,
    Wait,
    WithoutThread,
    decide,
)
from storage import chats, org, outbox
from storage.db import Database, storage_failure

log = logging.getLogger(__name__)

# Set while the sender makes a call: the session's middleware (bot/app.py) then knows the call is the outbox's.
FROM_OUTBOX: ContextVar[bool] = ContextVar("from_outbox", default=False)

GROUP_PER_MINUTE = 20
CHAT_INTERVAL = 1.0
GLOBAL_PER_SECOND = 30
STOP_GRACE = 8.0  # seconds a graceful stop waits for the call in flight (a supervisor kills after 10)
UP_WINDOW = timedelta(minutes=10)  # a call that got through this recently means Telegram is up
NOTICE_EVERY = timedelta(days=1)  # dead letters of one chat: the administrator is told at most this often


class RateLimiter:
    """When may the next call go to a chat? Sliding windows on the monotonic clock."""

    def __init__(self, chat_interval: float = CHAT_INTERVAL, group_per_minute: int = GROUP_PER_MINUTE,
                 global_per_second: int = GLOBAL_PER_SECOND) -> None:
        self.chat_interval = chat_interval
        self.group_per_minute = group_per_minute
        self.global_per_second = global_per_second
        self._chat: dict[int, deque[float]] = defaultdict(deque)
        self._all: deque[float] = deque()

    def ready_in(self, chat_id: int, now: float) -> float:
        wait = 0.0
        sent = self._chat[chat_id]
        while sent and now - sent[0] >= 60:
            sent.popleft()
        if sent:
            wait = max(wait, sent[-1] + self.chat_interval - now)
        if chat_id < 0 and len(sent) >= self.group_per_minute:
            wait = max(wait, sent[-self.group_per_minute] + 60 - now)
        while self._all and now - self._all[0] >= 1:
            self._all.popleft()
        if len(self._all) >= self.global_per_second:
            wait = max(wait, self._all[0] + 1 - now)
        return max(wait, 0.0)

    def record(self, chat_id: int, now: float) -> None:
        self._chat[chat_id].append(now)
        self._all.append(now)


class Sender:
    def __init__(self, bot: Bot, db: Database, clock: Clock, limiter: RateLimiter | None = None, *,
                 admins: Administrators | None = None, language: str = "ru",
                 timeouts: tuple[float, float] = (CREATING_TIMEOUT, OTHER_TIMEOUT)) -> None:
        self.bot = bot
        self.db = db
        self.clock = clock
        self.limiter = limiter or RateLimiter()
        self.admins = admins
        self.language = language  # the groups' language: a note in an incident's thread is in it
        self.timeouts = timeouts  # (calls that create something, the rest)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_ok = None  # when a call last got through (Telegram is up)
        # an outcome Telegram gave that could not be written yet (a full disk): written before anything else is sent
        self._unrecorded: tuple[outbox.OutgoingCall, dict[str, Any], Decision] | None = None

    def wake(self) -> None:
        """Something was added to the outbox: look now rather than at the next tick."""
        self._wake.set()

    async def start(self) -> None:
        """Calls in flight when the bot last died become "maybe sent"; then delivery begins."""
        recovered = await outbox.recover(self.db)
        if recovered:
            log.warning("%s call(s) were in flight when the bot stopped; they will be resent and checked", recovered)
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="outbox-sender")

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Finish the call in flight (up to ``grace`` seconds) and record it; then stop."""
        if self._task is None:
            return
        self._stopping.set()
        self._wake.set()
        done, _pending = await asyncio.wait({self._task}, timeout=grace)
        if not done:  # abandoned mid-call: Telegram may still carry it out
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            with contextlib.suppress(Exception):
                await outbox.recover(self.db)
            log.warning("stopped with a call unanswered after %.0f s; it is marked maybe sent", grace)
        self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                pause = await self.deliver_once()
            except Exception as e:  # the loop survives anything; the row stays pending
                if storage_failure(e):
                    log.error("outbox: the database cannot be written (%s); sending nothing until it can",
                              storage_failure(e))
                    await wait_any(self.db.healthy, self._stopping, timeout=30)
                    continue
                log.exception("outbox delivery failed; retrying shortly")
                pause = 1.0
            self._wake.clear()
            await wait_any(self._wake, self._stopping, timeout=pause)

    async def deliver_once(self) -> float:
        """Try every chat whose next call is due and allowed; return how long to sleep."""
        if self._unrecorded is not None:
            await self._record(*self._unrecorded)
            self._unrecorded = None
        now = self.clock.now()
        sleep = 1.0
        for call in await outbox.heads_of_queues(self.db):
            if self._stopping.is_set():
                return 0.0
            if call.not_before > now:
                sleep = min(sleep, (call.not_before - now).total_seconds())
                continue
            wait = self.limiter.ready_in(call.chat_id, time.monotonic())
            if wait > 0:
                sleep = min(sleep, wait)
                continue
            await self._deliver(call)
            sleep = 0.0  # more may be ready in this chat: look again
        return max(sleep, 0.0)

    async def drain(self, timeout: float = 10.0) -> None:
        """Deliver until nothing is due (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pause = await self.deliver_once()
            if await outbox.pending_count(self.db) == 0:
                return
            await asyncio.sleep(min(max(pause, 0.01), 0.2))

    # --- one call ---------------------------------------------------------------------------------------

    async def _deliver(self, call: outbox.OutgoingCall) -> None:
        payload = await outbox.resolve(self.db, call.payload)
        if payload is None:  # its card was never sent (a failed earlier call), or its file is gone
            await self._record(call, call.payload, GiveUp("the message or file it refers to does not exist",
                                                          tell=False))
            return
        try:
            method = _method(call.method, payload)
        except (ValueError, ValidationError) as e:  # our own bug: keep the row for the log, go on
            await self._record(call, payload, GiveUp(f"malformed: {e}"))
            return
        creating = call.method in CREATING
        known = await outbox.last_message_id(self.db, call.chat_id) if creating and call.chat_id < 0 else None
        # The window where Telegram may act without the bot knowing is from here to the end of _record.
        await outbox.start_try(self.db, call.id, self.clock.now(), known)
        self.limiter.record(call.chat_id, time.monotonic())
        token = FROM_OUTBOX.set(True)
        try:
            result = await self.bot(method, request_timeout=self.timeouts[0 if creating else 1])  # type: ignore[arg-type]
            answer = Answer.success(_as_json(result))
        except asyncio.CancelledError:
            raise
        except Exception as e:  # every answer, expected or not, becomes a decision
            answer = Answer.from_error(e)
        finally:
            FROM_OUTBOX.reset(token)
        decision = decide(call.method, answer, call.attempts + 1, telegram_up=self._telegram_up(),
                          has_thread="message_thread_id" in payload)
        try:
            await self._record(call, payload, decision)
        except Exception as e:
            if storage_failure(e):  # Telegram's answer is kept; it is written, never re-sent, once the disk has room
                self._unrecorded = (call, payload, decision)
            raise

    async def _record(self, call: outbox.OutgoingCall, payload: dict[str, Any], decision: Decision) -> None:
        now = self.clock.now()
        match decision:
            case Done(result):
                self._last_ok = now
                check = await self._duplicate_check(call, result) \
                    if call.maybe_sent_at and call.method in CREATING else None
                async with self.db.transaction() as conn:
                    await outbox.mark_sent(conn, call.id, now, result)
                    if isinstance(result, dict):
                        await outbox.record_result(conn, call.purpose, result)
                    note = await outbox.enqueue(conn, call.chat_id, "sendMessage", check.note, now) \
                        if check and check.note else None
                if check and check.copy_id and await self._remove_copy(call, payload, check.copy_id) and note:
                    await outbox.drop(self.db, note)  # the copy is gone: nothing to explain
            case Wait(seconds):
                log.warning("429 in chat %s: waiting %s s", call.chat_id, seconds)
                await outbox.postpone_chat(self.db, call.id, call.chat_id, now + timedelta(seconds=seconds))
            case Retry(after, reason, maybe_sent):
                log.warning("%s to chat %s failed (%s); try %s, next in %s", call.method, call.chat_id, reason,
                            call.attempts + 1, after)
                await outbox.postpone(self.db, call.id, now + after, reason, maybe_sent)
            case Reroute(new_chat):
                log.warning("chat %s became supergroup %s: moving the group and its queue", call.chat_id, new_chat)
                async with self.db.transaction() as conn:
                    await chats.move(conn, call.chat_id, new_chat)
                    await conn.execute("UPDATE outbox SET attempts = MAX(attempts - 1, 0), in_flight_at = NULL "
                                       "WHERE id = ?", (call.id,))
            case WithoutThread():
                await outbox.drop_thread(self.db, call.id, call.payload)
            case GiveUp(reason, tell):
                (log.error if tell else log.info)("%s to chat %s given up: %s; payload=%s", call.method,
                                                  call.chat_id, reason, _short(payload))
                notices = await self._dead_letter_notices(call, reason) if tell else []
                async with self.db.transaction() as conn:
                    await outbox.mark_failed(conn, call.id, now, reason)
                    purpose = f"notice:dead:{call.chat_id}"
                    if notices and not await outbox.noticed_since(conn, purpose, now - NOTICE_EVERY):
                        for admin, text in notices:
                            await outbox.enqueue(conn, admin, "sendMessage", {"chat_id": admin, "text": text}, now,
                                                 purpose=purpose)

    def _telegram_up(self) -> bool:
        return self._last_ok is not None and self.clock.now() - self._last_ok <= UP_WINDOW

    async def _dead_letter_notices(self, call: outbox.OutgoingCall, reason: str) -> list[tuple[int, str]]:
        """One line for each administrator, in his language (none about a notice to an administrator)."""
        if self.admins is None or (call.purpose or "").startswith("notice:"):
            return []
        chat = await _chat_name(self.db, call.chat_id)
        notices = []
        for admin, language in await self.admins():
            with use(language):
                notices.append((admin, _("⚠️ Сообщение в чат {chat} не доставлено: {reason}. Бот больше не "
                                         "пытается его отправить; остальные идут дальше.").format(
                    chat=chat, reason=escape(reason[:300]))))
        return notices

    async def _duplicate_check(self, call: outbox.OutgoingCall, result: Any) -> DuplicateCheck | None:
        """A call that may have been carried out before (the bot died or timed out mid-call) went out again. In a
        group, message numbers follow each other and the bot sees every message: if the resent one is numbered
        right after the highest the bot knew before the first try (``known_before``), nothing came between — no
        duplicate. If exactly one number is unknown, that message may be the copy (``copy_id``). A topic or a card
        that may have a copy gets a note in its thread saying which one is live (dropped if the copy is deleted)."""
        before = call.known_before
        first = _first_message_id(result)
        if before is not None and first == before + 1:
            log.info("%s to chat %s was resent after an unknown outcome: no duplicate", call.method, call.chat_id)
            return None
        log.warning("%s to chat %s was resent after an unknown outcome (%s); a duplicate may exist", call.method,
                    call.chat_id, call.maybe_sent_at)
        copy_id = before + 1 if before is not None and first == before + 2 and call.chat_id < 0 else None
        kind, _sep, ref = (call.purpose or "").partition(":")
        if kind not in ("topic", "card") or not ref.isdigit():
            return DuplicateCheck(None, copy_id)
        with use(self.language):
            text = (_("♻️ Тема №{number} создана повторно: бот перезапускался во время её создания. Если в группе "
                      "есть ещё одна тема с этим номером без карточки, она лишняя — инцидент ведётся здесь.")
                    if kind == "topic" else
                    _("♻️ Карточка №{number} отправлена повторно: бот перезапускался во время отправки. Если выше "
                      "есть её копия, она не обновляется — действует эта."))
        return DuplicateCheck({"chat_id": call.chat_id, "message_thread_id": {"$thread": int(ref)},
                               "text": text.format(number=ref)}, copy_id)

    async def _remove_copy(self, call: outbox.OutgoingCall, payload: dict[str, Any], copy_id: int) -> bool:
        """Is the one unknown message ``copy_id`` the copy of this call? Asked without changing anything: a topic
        renamed to its own name, or a message given its own keyboard, answers "not modified" only if it is the
        bot's own with the same name or keyboard. Then it is deleted. (In a group the bot sees everyone's
        messages, so an unknown number there is the bot's own.) Returns True if the copy is gone."""
        if call.method == "createForumTopic":
            probe: methods.TelegramMethod[Any] = methods.EditForumTopic(
                chat_id=call.chat_id, message_thread_id=copy_id, name=payload["name"])
            remove: methods.TelegramMethod[Any] = methods.DeleteForumTopic(chat_id=call.chat_id,
                                                                            message_thread_id=copy_id)
            same = "topic_not_modified"
        elif call.method == "sendMessage" and payload.get("reply_markup"):
            probe = methods.EditMessageReplyMarkup(chat_id=call.chat_id, message_id=copy_id,
                                                   reply_markup=payload["reply_markup"])
            remove = methods.DeleteMessage(chat_id=call.chat_id, message_id=copy_id)
            same = "message is not modified"
        else:
            return False
        try:
            await self.bot(probe, request_timeout=self.timeouts[1])  # type: ignore[arg-type]
        except TelegramAPIError as e:
            if same not in e.message.lower():
                return False  # not the bot's, or not the same: leave it
        except Exception:
            return False
        else:  # the bot's own message with another keyboard (or none): it is not the copy; put it back
            if call.method == "sendMessage":
                with contextlib.suppress(Exception):
                    await self.bot(methods.EditMessageReplyMarkup(chat_id=call.chat_id, message_id=copy_id),
                                   request_timeout=self.timeouts[1])  # type: ignore[arg-type]
            return False
        try:
            await self.bot(remove, request_timeout=self.timeouts[1])  # type: ignore[arg-type]
        except Exception as e:
            log.warning("the copy %s in chat %s could not be deleted: %s", copy_id, call.chat_id, e)
            return False
        log.warning("deleted the copy %s of %s in chat %s (Telegram had carried out the interrupted try)", copy_id,
                    call.method, call.chat_id)
        return True


@dataclass(frozen=True)
class DuplicateCheck:
    note: dict[str, Any] | None  # a note for the thread saying which topic or card is live
    copy_id: int | None  # the one message that may be the copy


async def _chat_name(db: Database, chat_id: int) -> str:
    group = await org.group(db, chat_id)
    if group is not None:
        return f"«{escape(group.title)}» ({chat_id})"
    person = await org.person(db, chat_id)
    return f"{escape(person.name)} ({chat_id})" if person else str(chat_id)


def _first_message_id(result: Any) -> int | None:
    if isinstance(result, dict):
        found = result.get("message_id") or result.get("message_thread_id")
        return int(found) if found else None
    if isinstance(result, list) and result and isinstance(result[0], dict) and "message_id" in result[0]:
        return min(int(m["message_id"]) for m in result)
    return None


def _short(payload: dict[str, Any]) -> str:
    text = str(payload)
    return text if len(text) <= 300 else text[:300] + "…"


def _method(name: str, payload: dict[str, Any]) -> methods.TelegramMethod[Any]:
    cls = getattr(methods, name[0].upper() + name[1:], None)
    if cls is None:
        raise ValueError(f"unknown Bot API method {name!r}")
    files = {k: FSInputFile(v["$file"], filename=v.get("name")) for k, v in payload.items()
             if isinstance(v, dict) and "$file" in v}
    return cls(**{**payload, **files})


def _as_json(result: Any) -> Any:
    if hasattr(result, "model_dump"):
        return result.model_dump(mode="json", exclude_none=True)
    if isinstance(result, list):
        return [_as_json(r) for r in result]
    return result
