"""What keeps an update cheap (issue 11) without changing what it does: filters run in the loop, caches that see
every change (the figures themselves are measured in benchmarks/bench_throughput.py, never here)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from aiogram import F

from bot.clock import SystemClock
from bot.scheduler import JOB, POKE_GAP, Scheduler
from handlers import build_router, run_filters_inline
from storage import reports, retention
from storage.db import CHECKPOINT_EVERY, Database


def test_no_filter_or_handler_of_the_bot_runs_in_a_worker_thread():
    root = build_router()
    checked = 0
    for router in root.chain_tail:
        for observer in router.observers.values():
            for handler in observer.handlers:
                assert handler.awaitable, handler.callback
            for handler in [observer._handler, *observer.handlers]:
                for f in handler.filters or []:
                    assert f.awaitable, (router.name, f.callback)
                    checked += 1
    assert checked > 20  # the routers' F.… filters were found, not skipped


async def test_an_inlined_magic_filter_still_filters():
    from aiogram import Router
    from aiogram.types import Chat, Message

    router = Router()
    router.message.filter(F.chat.type == "private")

    @router.message(~F.text.startswith("/"))
    async def take(message: Message) -> str:
        return "taken"

    root = Router()
    root.include_router(router)
    run_filters_inline(root)
    [handler] = router.message.handlers
    [outer] = router.message._handler.filters
    private = Message(message_id=1, date=0, chat=Chat(id=1, type="private"), text="hello")
    group = Message(message_id=1, date=0, chat=Chat(id=-1, type="group"), text="hello")
    command = Message(message_id=1, date=0, chat=Chat(id=1, type="private"), text="/help")
    assert await outer.call(private) and not await outer.call(group)
    assert (await handler.check(private))[0] and not (await handler.check(command))[0]


# --- the scheduler: a poke ticks now without re-planning the job for the moment owed ------------------------------


class FakeReminders:
    def __init__(self, wake: datetime) -> None:
        self.wake = wake
        self.ticks = 0

    async def tick(self, now: datetime | None = None) -> datetime:
        self.ticks += 1
        return self.wake


class FakeSender:
    def __init__(self) -> None:
        self.wakes = 0

    def wake(self) -> None:
        self.wakes += 1


async def until(predicate, what: str) -> None:
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


def planned_at(scheduler: Scheduler) -> datetime:
    return scheduler.aps.get_job(JOB).next_run_time


async def test_a_poke_ticks_now_and_the_job_stays_planned_for_the_moment_owed():
    clock = SystemClock()
    reminders = FakeReminders(clock.now() + timedelta(hours=1))
    scheduler = Scheduler(reminders, FakeSender(), clock)  # type: ignore[arg-type]
    scheduler.start()
    try:
        await until(lambda: reminders.ticks == 1, "the first tick")
        await until(lambda: scheduler.aps.get_job(JOB) is not None, "the job planned")
        first = planned_at(scheduler)
        assert abs((first - reminders.wake).total_seconds()) < 1
        for n in range(2, 6):  # each poke: a tick now; the job keeps its moment
            scheduler.poke()
            await until(lambda n=n: reminders.ticks == n, f"tick {n}")
        await until(lambda: not scheduler._ticking, "the last tick to end")
        assert planned_at(scheduler) == first
        reminders.wake = clock.now() + timedelta(minutes=5)  # something is owed sooner: the job moves
        scheduler.poke()
        await until(lambda: reminders.ticks == 6 and abs((planned_at(scheduler) - reminders.wake).total_seconds()) < 1,
                    "the job moved to the sooner moment")
    finally:
        await scheduler.stop()


async def test_a_burst_of_pokes_right_after_a_tick_is_one_tick_at_the_gap_s_end():
    """Under load (a poke with every update) one tick looks for all the updates of its moment, at most
    ``POKE_GAP`` later; a poke after a quiet spell still ticks at once."""
    clock = SystemClock()
    reminders = FakeReminders(clock.now() + timedelta(hours=1))
    sender = FakeSender()
    scheduler = Scheduler(reminders, sender, clock)  # type: ignore[arg-type]
    scheduler.start()
    try:
        await until(lambda: reminders.ticks == 1 and not scheduler._ticking, "the first tick")
        await asyncio.sleep(POKE_GAP * 2)
        loop = asyncio.get_running_loop()
        scheduler.poke()  # quiet until now: at once
        await until(lambda: reminders.ticks == 2 and not scheduler._ticking, "the poked tick")
        started = loop.time()
        for _ in range(20):  # twenty updates in a few milliseconds
            scheduler.poke()
            await asyncio.sleep(0)
        assert sender.wakes >= 21  # the outbox is looked at every time, at once
        await until(lambda: reminders.ticks == 3, "one tick for the burst")
        assert loop.time() - started >= POKE_GAP * 0.8
        await asyncio.sleep(POKE_GAP * 3)
        assert reminders.ticks == 3
    finally:
        await scheduler.stop()


async def test_pokes_while_a_tick_runs_are_not_lost():
    clock = SystemClock()
    reminders = FakeReminders(clock.now() + timedelta(hours=1))
    scheduler = Scheduler(reminders, FakeSender(), clock)  # type: ignore[arg-type]
    gate = asyncio.Event()

    async def slow_tick(now: datetime | None = None) -> datetime:
        reminders.ticks += 1
        if reminders.ticks == 2:
            await gate.wait()
        return reminders.wake

    reminders.tick = slow_tick  # type: ignore[method-assign]
    scheduler.start()
    try:
        await until(lambda: reminders.ticks == 1 and not scheduler._ticking, "the first tick")
        scheduler.poke()
        await until(lambda: reminders.ticks == 2, "the poked tick to begin")
        scheduler.poke()  # while it runs: it looks again when it ends
        scheduler.poke()
        gate.set()
        await until(lambda: reminders.ticks == 3, "one more tick for the pokes made meanwhile")
        await asyncio.sleep(0.05)
        assert reminders.ticks == 3
    finally:
        await scheduler.stop()


# --- the database: the hot path in the loop's thread, long work in aiosqlite's -------------------------------------


async def test_a_write_waits_for_another_process_lock_while_the_loop_goes_on(tmp_path):
    db = await Database.open(tmp_path / "bot.sqlite3")
    other = sqlite3.connect(tmp_path / "bot.sqlite3", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # e.g. `org import` in another process
        write = asyncio.create_task(db.write("INSERT INTO storage_probe(data) VALUES (x'00')"))
        beats = 0
        for _ in range(20):  # the loop is free meanwhile
            await asyncio.sleep(0.005)
            beats += 1
        assert not write.done() and beats == 20
        other.execute("COMMIT")
        await asyncio.wait_for(write, 5)
        row = await db.fetchone("SELECT COUNT(*) AS n FROM storage_probe")
        assert row["n"] == 1
    finally:
        other.close()
        await db.close()


async def test_a_lock_held_longer_than_the_busy_timeout_is_an_sqlite_busy_error(tmp_path):
    db = await Database.open(tmp_path / "bot.sqlite3")
    db.conn.busy_timeout = 0.1
    other = sqlite3.connect(tmp_path / "bot.sqlite3", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError) as error:
            await db.write("INSERT INTO storage_probe(data) VALUES (x'00')")
        assert error.value.sqlite_errorname.startswith("SQLITE_BUSY")
        assert not db.conn.in_transaction
        other.execute("ROLLBACK")
        await db.write("INSERT INTO storage_probe(data) VALUES (x'00')")  # free again: works
    finally:
        other.close()
        await db.close()


async def test_long_work_runs_on_aiosqlites_connection_and_the_hot_path_on_the_other(tmp_path):
    db = await Database.open(tmp_path / "bot.sqlite3")
    hot: list[str] = []
    slow: list[str] = []
    await db.conn.set_trace_callback(hot.append)
    await db.slow.set_trace_callback(slow.append)
    try:
        start = datetime(2026, 11, 2, tzinfo=UTC)
        await reports.month_data(db, "izobilny", start, start + timedelta(days=30), ["answer"])
        await retention.erase(db, start)
        await retention.prune_delivered(db, start)
        assert not hot  # none of it in the loop's thread
        for part in ("FROM incidents i", "SELECT COUNT(*) FROM intake", "SELECT id, sent_at FROM outbox"):
            assert any(part in s for s in slow), part
        await db.checkpoint("TRUNCATE")
        assert not hot and "wal_checkpoint(TRUNCATE)" in slow[-1]
        await db.write("INSERT INTO storage_probe(data) VALUES (x'00')")
        assert hot and "INSERT INTO storage_probe" in hot[-1]
    finally:
        await db.close()


async def test_the_log_is_checkpointed_in_aiosqlites_thread_not_at_a_commit_in_the_loop(tmp_path):
    db = await Database.open(tmp_path / "bot.sqlite3")
    slow: list[str] = []
    try:
        assert (await db.fetchone("PRAGMA wal_autocheckpoint"))[0] == 0
        await db.slow.set_trace_callback(slow.append)
        for n in range(CHECKPOINT_EVERY * 2):
            await db.write("INSERT INTO storage_probe(data) VALUES (?)", (bytes([n % 256]),))
            if n == CHECKPOINT_EVERY - 10:
                assert not slow
        await until(lambda: any("wal_checkpoint(RESTART)" in s for s in slow), "a checkpoint")
    finally:
        await db.close()


def test_a_call_goes_as_json_and_an_upload_as_a_form(tmp_path):
    from aiogram import Bot
    from aiogram.client.default import DefaultBotProperties
    from aiogram.methods import SendDocument, SendMessage
    from aiogram.types import FSInputFile, InlineKeyboardButton, InlineKeyboardMarkup
    from aiohttp import FormData, JsonPayload

    from bot.app import Session

    session = Session()
    bot = Bot("42:TEST", session=session, default=DefaultBotProperties(parse_mode="HTML"))
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="✅", callback_data="a:1")]])
    body = session.build_form_data(bot, SendMessage(chat_id=-100, text="Яма <b>у дома</b>", reply_markup=keyboard,
                                                    message_thread_id=7))
    assert isinstance(body, JsonPayload)
    assert json.loads(body._value) == {  # what a form would carry, as JSON: the default parse mode too
        "chat_id": -100, "text": "Яма <b>у дома</b>", "message_thread_id": 7, "parse_mode": "HTML",
        "reply_markup": {"inline_keyboard": [[{"text": "✅", "callback_data": "a:1"}]]}}
    (tmp_path / "r.csv").write_text("a;b")
    upload = session.build_form_data(bot, SendDocument(chat_id=-100, document=FSInputFile(tmp_path / "r.csv")))
    assert isinstance(upload, FormData)


async def test_an_outbox_call_is_posted_as_its_json_with_the_bots_defaults_and_fails_as_aiogram_fails():
    """Session.post_json: the outbox's parameters go as they are (no method object validated and dumped), with
    the bot's parse_mode as aiogram adds it; the answer stays JSON; an error is aiogram's exception."""
    from aiogram import Bot
    from aiogram.client.default import DefaultBotProperties
    from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter
    from aiogram.methods import EditMessageReplyMarkup, SendMessage

    from bot.app import Session
    from emulator import TelegramEmulator

    async with TelegramEmulator() as tg:
        user = tg.create_user("Анна", started=True)
        session = Session(api=tg.api_server)
        bot = Bot(tg.token, session=session, default=DefaultBotProperties(parse_mode="HTML"))
        try:
            keyboard = {"inline_keyboard": [[{"text": "✅", "callback_data": "a:1"}]]}
            sent = await session.post_json(bot, SendMessage, {"chat_id": user.id, "text": "Яма <b>у дома</b>",
                                                              "reply_markup": keyboard})
            assert isinstance(sent, dict) and sent["text"] == "Яма у дома"  # HTML read: the default parse mode
            [call] = [c for c in tg.calls() if c.method == "sendMessage"]
            assert call.params["parse_mode"] == "HTML" and call.params["reply_markup"] == keyboard
            await session.post_json(bot, EditMessageReplyMarkup, {"chat_id": user.id,
                                                                  "message_id": sent["message_id"]})
            assert "parse_mode" not in tg.calls()[-1].params  # only where the method has it
            with pytest.raises(TelegramBadRequest) as bad:
                await session.post_json(bot, SendMessage, {"chat_id": 999_999, "text": "?"})
            assert bad.value.status_code == 400 and isinstance(bad.value.method, SendMessage)
            tg.faults.retry_after(7, method="sendMessage")
            with pytest.raises(TelegramRetryAfter) as flood:
                await session.post_json(bot, SendMessage, {"chat_id": user.id, "text": "ещё"})
            assert flood.value.retry_after == 7
        finally:
            await bot.session.close()


async def test_the_sender_decodes_a_waiting_call_again_only_when_its_row_changed(tmp_path):
    from storage import outbox

    db = await Database.open(tmp_path / "bot.sqlite3")
    now = datetime(2026, 12, 2, 9, tzinfo=UTC)
    try:
        async with db.transaction() as conn:
            first = await outbox.enqueue(conn, -100, "sendMessage", {"chat_id": -100, "text": "a"}, now)
            await outbox.enqueue_latest(conn, -100, "editMessageText", {"chat_id": -100, "text": "b"}, now, "edit:1")
        decoded: dict = {}
        before = {c.id: c for c in await outbox.pending(db, decoded=decoded)}
        await outbox.record_sent(db, first, now, None, {"message_id": 5}, None)  # the one ahead goes: places move
        [edit] = await outbox.pending(db, decoded=decoded)
        assert edit is before[edit.id]  # the same row: not decoded again
        async with db.transaction() as conn:
            await outbox.enqueue_latest(conn, -100, "editMessageText", {"chat_id": -100, "text": "c"}, now, "edit:1")
        [changed] = await outbox.pending(db, decoded=decoded)
        assert changed.id == edit.id and changed.payload["text"] == "c"
        await db.write("UPDATE outbox SET chat_id = -200 WHERE id = ?", (edit.id,))  # the group became a supergroup
        [moved] = await outbox.pending(db, decoded=decoded)
        assert moved.chat_id == -200
    finally:
        await db.close()
