"""Updates: fetched from Telegram, stored, confirmed, then handled from the database — nothing taken is lost.

aiogram's own polling confirms an update to Telegram (the next getUpdates' offset) as soon as its handler
starts, so a crash while handling it lost it for good. Here:

    getUpdates(offset)      ──▶ the batch is stored in the inbox table, in one transaction
    next getUpdates(offset = last stored + 1)   (only now does Telegram forget them)
    lanes ──▶ dp.feed_update(update) ──▶ handled_at, in the transaction of the use case's own effects

- A crash before the batch is stored: it was not confirmed, Telegram gives it again.
- A crash after: it is in the inbox, handled after the restart. Telegram may give it again too (not yet
  confirmed): the update id is the inbox's key, the second copy is ignored.
- A crash during handling: the use case's transaction commits its effects and the "handled" mark together
  (storage/db.py, ``HANDLING``), so the update is either done or handled again from the start, never half.
  A handler that writes nothing (e.g. /help) is marked right after it returns.
- Updates of one chat (a lane) are handled in order; chats run side by side, so a slow call in one chat does
  not hold the others.
- A handler that raises is tried again (``TRIES`` in all, with a pause), then given up with a log line.
- The database cannot be written (disk full): the batch is not stored and not confirmed; the person is told once
  (bot/storage_alarm.py) and Telegram keeps the update until the disk has room.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramConflictError, TelegramRetryAfter
from aiogram.methods import GetUpdates
from aiogram.types import Update

from bot.aio import wait_any, wait_set
from bot.clock import Clock
from bot.storage_alarm import StorageAlarm
from storage import inbox, outbox
from storage.db import HANDLING, Database, HandlingUpdate, storage_failure, to_db

log = logging.getLogger(__name__)

POLL_TIMEOUT = 10  # seconds Telegram holds a getUpdates open when there is nothing
TRIES = 3  # a handler that raises is tried this many times
RETRY_AFTER = (timedelta(seconds=2), timedelta(seconds=10))
MAX_LANES = 32  # chats handled at the same moment
KEEP_HANDLED = timedelta(days=1)  # what people wrote is kept this long in a handled update (its id for good)
STOP_GRACE = 8.0  # seconds a stop waits for the updates being handled
MAX_FRESH = 10_000  # updates kept in memory between storing and handling them (beyond: read back from the inbox)


class Inbox:
    def __init__(self, bot: Bot, dp: Dispatcher, db: Database, clock: Clock, alarm: StorageAlarm, *,
                 poll_timeout: int = POLL_TIMEOUT) -> None:
        self.bot, self.dp, self.db, self.clock, self.alarm = bot, dp, db, clock, alarm
        self.poll_timeout = poll_timeout
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._lanes: dict[int, asyncio.Task[None]] = {}
        self._done_unmarked: set[int] = set()  # handled, but the mark could not be written yet (a full disk)
        # Updates stored by this process and not yet handled, as aiogram read them from getUpdates: handled from
        # here rather than read back and validated again from their stored copy (after a restart, from that copy).
        self._fresh: dict[int, Update] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._stopping.clear()
        self._tasks = [asyncio.create_task(self._poll(), name="inbox-poll"),
                       asyncio.create_task(self._dispatch(), name="inbox-dispatch")]

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """No update is taken after this begins; those being handled get ``grace`` seconds to finish."""
        self._stopping.set()
        self._wake.set()
        tasks = [*self._tasks, *self._lanes.values()]
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:  # abandoned: its update stays unhandled and is handled after the restart
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._tasks = []

    @property
    def busy(self) -> bool:
        """Some update is being handled now."""
        return bool(self._lanes)

    # --- fetching ---------------------------------------------------------------------------------------

    async def _poll(self) -> None:
        offset: int | None = None  # None at start: Telegram gives again what was not confirmed
        allowed = self.dp.resolve_used_update_types()
        pause = 1.0
        pruned = None
        while not self._stopping.is_set():
            call = asyncio.ensure_future(self._get_updates(offset, allowed))
            stop = asyncio.ensure_future(self._stopping.wait())
            await asyncio.wait({call, stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if not call.done():  # stopping: an unfinished getUpdates confirms nothing
                call.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await call
                return
            try:
                updates = call.result()
            except TelegramRetryAfter as e:
                await self._sleep(e.retry_after)
                continue
            except TelegramConflictError:
                log.error("another copy of the bot is taking updates with the same token; retrying in 5 s")
                await self._sleep(5)
                continue
            except Exception as e:  # Telegram away, a proxy's page, the network: nothing confirmed, try again
                log.warning("getUpdates failed (%s); retrying in %.0f s", e, pause)
                await self._sleep(pause)
                pause = min(pause * 2, 30.0)
                continue
            pause = 1.0
            if updates and await self._store(updates):
                offset = updates[-1][0].update_id + 1  # confirmed by the next getUpdates, now that they are stored
                if len(self._fresh) > MAX_FRESH:  # e.g. copies of updates handled already: read back instead
                    self._fresh.clear()
                self._fresh.update((u.update_id, u) for u, _raw in updates)
                self._wake.set()
                if self.db.failing is not None:  # stored, but handled only once the disk has room again
                    for update, _raw in updates:
                        await self.alarm.refuse(update)
            if pruned is None or self.clock.now() - pruned > timedelta(hours=1):
                pruned = self.clock.now()
                with contextlib.suppress(Exception):
                    await inbox.prune(self.db, pruned - KEEP_HANDLED)
                    await outbox.prune_direct(self.db, pruned - KEEP_HANDLED)

    async def _get_updates(self, offset: int | None, allowed: list[str]) -> list[tuple[Update, dict[str, Any]]]:
        """getUpdates: each update as aiogram reads it, with the JSON Telegram sent (stored as it came, rather than
        dumped again from aiogram's object: that was a twentieth of the bot's CPU). Errors are aiogram's."""
        params = {"offset": offset, "timeout": self.poll_timeout, "allowed_updates": allowed}
        raw = await self.bot.session.post_json(  # type: ignore[attr-defined]  (bot.app.Session)
            self.bot, GetUpdates, {k: v for k, v in params.items() if v is not None}, self.poll_timeout + 10)
        return [(Update.model_validate(u, context={"bot": self.bot}), u) for u in raw]

    async def _store(self, updates: list[tuple[Update, dict[str, Any]]]) -> bool:
        rows = [(u.update_id, lane_of(u), raw) for u, raw in updates]
        try:
            await inbox.store(self.db, rows, self.clock.now())
            return True
        except Exception as e:  # not stored, so not confirmed: Telegram gives them again
            if storage_failure(e):
                for update, _raw in updates:  # the disk is full: Telegram keeps them until it has room
                    await self.alarm.refuse(update)
            else:  # e.g. the database locked by another writer for longer than the busy timeout
                log.error("inbox: could not store %s update(s) (%s); Telegram keeps them, trying again", len(rows), e)
            await self._sleep(3)
            return False

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    # --- handling -----------------------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    async def _dispatch(self) -> None:
        """Start a lane for each chat with updates waiting (one task per chat, at most MAX_LANES)."""
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                for first in await inbox.lanes_waiting(self.db, self.clock.now()):
                    lane = first.lane
                    if lane not in self._lanes and len(self._lanes) < MAX_LANES:
                        self._lanes[lane] = asyncio.create_task(self._lane(lane, first), name=f"inbox-lane-{lane}")
            except Exception:
                log.exception("inbox: reading waiting updates failed")
            await wait_set(self._wake, 1.0)  # stop() sets it too

    async def _lane(self, lane: int, first: inbox.Incoming | None = None) -> None:
        """The chat's updates one after another. ``first``, its oldest as the dispatcher read it, is used without
        reading it again only while it is fresh (stored by this run and not taken up since: not stale)."""
        if first is not None and first.update_id not in self._fresh:
            first = None
        try:
            while not self._stopping.is_set():
                if not self.db.healthy.is_set():  # the disk is full: wait for room, handle nothing meanwhile
                    await wait_any(self.db.healthy, self._stopping)
                    continue
                item, first = first or await inbox.next_in_lane(self.db, lane, self.clock.now()), None
                if item is None:
                    return
                await self._handle(item)
                await asyncio.sleep(0)  # other chats and the sender go between two updates (a statement never yields)
        except Exception:
            log.exception("inbox lane %s failed", lane)
        finally:
            self._lanes.pop(lane, None)
            self._wake.set()

    async def _handle(self, item: inbox.Incoming) -> None:
        now = self.clock.now()
        if item.update_id not in self._done_unmarked:
            update = self._fresh.pop(item.update_id, None) \
                or Update.model_validate(item.payload(), context={"bot": self.bot})
            handling = HandlingUpdate(item.update_id, str(to_db(now)), asyncio.current_task())
            token = HANDLING.set(handling)
            error = None
            try:
                await self.dp.feed_update(self.bot, update)
            except Exception as e:
                error = e
            finally:
                HANDLING.reset(token)  # what follows is bookkeeping, not the update's effects
            if error is not None:
                await self._failed(item, update, error)
                return
            if handling.marked:
                return
        try:  # a handler that wrote nothing (or whose mark failed): marked now
            await inbox.mark_handled(self.db, item.update_id, now)
            self._done_unmarked.discard(item.update_id)
        except Exception as e:
            if not storage_failure(e):
                raise
            self._done_unmarked.add(item.update_id)  # never handled twice for a failing disk

    async def _failed(self, item: inbox.Incoming, update: Update, error: Exception) -> None:
        if storage_failure(error):  # not handled: it waits in the inbox for the disk
            await self.alarm.refuse(update)
            return
        if getattr(error, "sqlite_errorname", "").startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            log.warning("update %s waits: the database is busy (%s)", item.update_id, error)
            with contextlib.suppress(Exception):  # another writer holds the database: not the update's fault
                await inbox.postpone(self.db, item.update_id, self.clock.now() + RETRY_AFTER[0])
            return
        tries = item.attempts + 1
        retry = self.clock.now() + RETRY_AFTER[tries - 1] if tries < TRIES else None
        log.error("update %s failed (try %s of %s%s): %s", item.update_id, tries, TRIES,
                  "" if retry else ", given up", error, exc_info=error)
        with contextlib.suppress(Exception):
            await inbox.failed(self.db, item.update_id, self.clock.now(), f"{type(error).__name__}: {error}", retry)


def lane_of(update: Update) -> int:
    """The chat an update belongs to (its updates are handled in order), else the person, else 0."""
    try:
        event: Any = update.event
    except Exception:  # an update type this aiogram does not know
        return 0
    chat = getattr(event, "chat", None) or getattr(getattr(event, "message", None), "chat", None)
    if chat is not None:
        return int(chat.id)
    user = getattr(event, "from_user", None)
    return int(user.id) if user is not None else 0
