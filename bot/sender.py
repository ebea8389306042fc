"""The one sender: delivers the outbox in order per chat, under Telegram's limits, retrying what may pass.

- In order per chat: only the oldest pending call of a chat is tried; the next waits for it.
- Limits: at most one call a second into a chat, 20 a minute into a group, 30 a second overall.
- 429: the chat waits ``retry_after``; 5xx, network errors and time-outs: the call is retried with backoff.
- A bad request is Telegram saying "never": the call is marked failed and logged, and the queue goes on.
  "Message is not modified" counts as done; a closed or deleted topic makes the message go to the group.
- A call is marked sent in the database right after Telegram confirms it. After a crash, what was not
  confirmed is sent again; what was confirmed is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict, deque
from datetime import timedelta
from typing import Any

from aiogram import Bot, methods
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import FSInputFile
from pydantic import ValidationError

from bot.clock import Clock
from storage import outbox
from storage.db import Database

log = logging.getLogger(__name__)

GROUP_PER_MINUTE = 20
CHAT_INTERVAL = 1.0
GLOBAL_PER_SECOND = 30


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
    def __init__(self, bot: Bot, db: Database, clock: Clock, limiter: RateLimiter | None = None) -> None:
        self.bot = bot
        self.db = db
        self.clock = clock
        self.limiter = limiter or RateLimiter()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Something was added to the outbox: look now rather than at the next tick."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-sender")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                pause = await self.deliver_once()
            except Exception:  # the loop must survive anything; the row stays pending
                log.exception("outbox delivery failed; retrying shortly")
                pause = 1.0
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=pause)

    async def deliver_once(self) -> float:
        """Try every chat whose next call is due and allowed; return how long to sleep."""
        now = self.clock.now()
        sleep = 1.0
        for call in await outbox.heads_of_queues(self.db):
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

    async def _deliver(self, call: outbox.OutgoingCall) -> None:
        payload = await outbox.resolve(self.db, call.payload)
        now = self.clock.now()
        if payload is None:  # its card was never sent (a failed earlier call): nothing to edit
            await outbox.mark_failed(self.db, call.id, now, "the message it refers to does not exist")
            return
        try:
            method = _method(call.method, payload)
        except (ValueError, ValidationError) as e:  # our own bug: keep the row for the log, go on
            log.error("outbox call %s is malformed: %s", call.id, e)
            await outbox.mark_failed(self.db, call.id, now, f"malformed: {e}")
            return
        self.limiter.record(call.chat_id, time.monotonic())
        try:
            result = await self.bot(method)
        except TelegramRetryAfter as e:
            log.warning("429 in chat %s: waiting %s s", call.chat_id, e.retry_after)
            await outbox.postpone_chat(self.db, call.chat_id, now + timedelta(seconds=e.retry_after))
        except (TelegramServerError, TelegramNetworkError, TimeoutError) as e:
            log.warning("%s to chat %s failed (%s); will retry", call.method, call.chat_id, e)
            await outbox.postpone(self.db, call.id, now + outbox.backoff(call.attempts), str(e))
        except TelegramBadRequest as e:
            await self._bad_request(call, payload, e)
        except TelegramForbiddenError as e:
            log.error("%s to chat %s forbidden: %s", call.method, call.chat_id, e)
            await outbox.mark_failed(self.db, call.id, now, str(e))
        else:
            data = _as_json(result)
            async with self.db.transaction() as conn:
                await outbox.mark_sent(conn, call.id, now, data)
                if isinstance(data, dict):
                    await outbox.record_result(conn, call.purpose, data)

    async def _bad_request(self, call: outbox.OutgoingCall, payload: dict[str, Any], e: TelegramBadRequest) -> None:
        text = str(e.message).lower()
        now = self.clock.now()
        if "message is not modified" in text:
            async with self.db.transaction() as conn:
                await outbox.mark_sent(conn, call.id, now, None)
            return
        if "thread not found" in text or "topic_closed" in text or "topic closed" in text:
            await outbox.drop_thread(self.db, call.id, call.payload)
            return
        log.error("%s to chat %s refused: %s; payload=%s", call.method, call.chat_id, e.message, payload)
        await outbox.mark_failed(self.db, call.id, now, str(e.message))


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
    return result
