"""The sender against the emulator's faults, one test per class of answer (bot/outcomes.py): the chat's queue
always moves on, nothing Telegram did is repeated, nothing refused for good blocks what follows."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer

from bot.admins import administrators
from bot.app import Session
from bot.clock import FakeClock
from bot.outcomes import UNKNOWN_TRIES, backoff
from bot.sender import RateLimiter, Sender
from emulator import TelegramEmulator, User
from storage import outbox
from storage.db import Database
from tests import disk

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
FAST = RateLimiter(chat_interval=0.0, group_per_minute=10_000, global_per_second=10_000)


@dataclass
class World:
    tg: TelegramEmulator
    db: Database
    bot: Bot
    user: User
    admin: User
    clock: FakeClock

    def sender(self, **kw) -> Sender:
        admins = administrators(self.db, frozenset({self.admin.id}), "ru")
        return Sender(self.bot, self.db, self.clock, FAST, admins=admins, **kw)

    async def put(self, text: str, chat_id: int | None = None, method: str = "sendMessage", **payload) -> int:
        chat = self.user.id if chat_id is None else chat_id
        async with self.db.transaction() as conn:
            return await outbox.enqueue(conn, chat, method, {"chat_id": chat, "text": text, **payload},
                                        self.clock.now())

    async def row(self, call_id: int) -> dict:
        return dict(await self.db.fetchone("SELECT * FROM outbox WHERE id = ?", (call_id,)))

    def texts(self, user: User | None = None) -> list[str]:
        return [m.text for m in self.tg.bot_messages(user or self.user)]


def bot_for(base_url: str, token: str) -> Bot:
    """The bot as the app builds it: its session keeps the HTTP status of answers that are not JSON."""
    return Bot(token, session=Session(api=TelegramAPIServer.from_base(base_url)),
               default=DefaultBotProperties(parse_mode="HTML"))


@pytest.fixture
async def world(tmp_path):
    async with TelegramEmulator() as tg:
        db = await Database.open(tmp_path / "bot.sqlite3")
        bot = bot_for(tg.base_url, tg.token)
        try:
            yield World(tg, db, bot, tg.create_user("Анна", started=True), tg.create_user("Админ", started=True),
                        FakeClock(NOW))
        finally:
            await bot.session.close()
            await db.close()


async def test_a_404_is_retried_with_backoff_a_bounded_number_of_times_then_the_queue_goes_on(world):
    """A self-hosted Bot API server answering 404: once a backoff, not once a second; given up after a few
    tries, the administrator told; what was queued behind it goes out."""
    w = world
    first = await w.put("первое")
    await w.put("второе")
    w.tg.faults.error(404, "Not Found", method="sendMessage", times=UNKNOWN_TRIES)
    sender = w.sender()
    for attempt in range(1, UNKNOWN_TRIES):
        await sender.deliver_once()
        await sender.deliver_once()  # at once again: the backoff holds it
        assert w.tg.call_count("sendMessage") == attempt
        row = await w.row(first)
        assert row["attempts"] == attempt and "404" in row["last_error"] and not row["failed_at"]
        w.clock.advance(backoff(attempt))
    await sender.drain()
    row = await w.row(first)
    assert row["failed_at"] and f"({UNKNOWN_TRIES} tries)" in row["last_error"]
    assert w.texts() == ["второе"]
    [notice] = w.texts(w.admin)
    assert "не доставлено" in notice and "404" in notice and str(w.user.id) in notice


async def test_a_proxy_page_instead_of_json_is_a_server_error_retried_with_backoff(world):
    w = world
    call = await w.put("важное")
    w.tg.faults.server_error(502, method="sendMessage", times=2, html=True)
    sender = w.sender()
    await sender.deliver_once()
    assert (await w.row(call))["last_error"] == "502 (not JSON)"
    await sender.deliver_once()
    assert w.tg.call_count("sendMessage") == 1  # backoff, not a loop
    w.clock.advance(timedelta(seconds=1))
    await sender.deliver_once()
    w.clock.advance(timedelta(seconds=2))
    await sender.drain()
    assert w.texts() == ["важное"]
    assert w.texts(w.admin) == []


async def test_a_blocked_user_is_a_dead_letter_and_the_administrator_is_told_once_a_day(world):
    w = world
    w.tg.block_bot(w.user)
    ids = [await w.put(f"напоминание {i}") for i in range(3)]
    await w.sender().drain()
    for call_id in ids:
        assert "blocked" in (await w.row(call_id))["last_error"]
    [notice] = w.texts(w.admin)
    assert "bot was blocked by the user" in notice
    w.clock.advance(timedelta(days=1, minutes=1))
    await w.put("ещё одно")
    await w.sender().drain()
    assert len(w.texts(w.admin)) == 2


async def test_an_edit_of_a_message_that_is_gone_is_given_up_quietly(world):
    w = world
    call = await w.put("новый текст", method="editMessageText", message_id=999)
    await w.put("следующее")
    await w.sender().drain()
    assert (await w.row(call))["failed_at"]
    assert w.texts() == ["следующее"]
    assert w.texts(w.admin) == []  # nobody needs to hear about it


async def test_a_slow_answer_to_a_creating_call_is_waited_for_not_repeated(world):
    w = world
    await w.put("карточка")
    w.tg.faults.hang(method="sendMessage", seconds=1.0, after_processing=True)
    await w.sender(timeouts=(5.0, 0.3)).drain()
    assert w.texts() == ["карточка"] and w.tg.call_count("sendMessage") == 1


async def test_an_edit_that_timed_out_is_repeated_and_changes_nothing(world):
    w = world
    sent = await w.bot.send_message(w.user.id, "было")
    call = await w.put("стало", method="editMessageText", message_id=sent.message_id)
    w.tg.faults.hang(method="editMessageText", seconds=1.0, after_processing=True)
    sender = w.sender(timeouts=(5.0, 0.3))
    await sender.deliver_once()  # times out after 0.3 s; Telegram applies it at 1 s
    row = await w.row(call)
    assert not row["sent_at"] and row["maybe_sent_at"] is None  # an edit: repeating it is harmless
    await asyncio.sleep(0.8)
    w.clock.advance(timedelta(seconds=1))
    await sender.drain()
    assert (await w.row(call))["sent_at"]
    assert w.tg.message(w.user.id, sent.message_id).text == "стало"


async def test_a_creating_call_that_timed_out_is_resent_flagged_maybe_sent(world):
    """Telegram answered after the bot gave up: the resend makes a second message. The row says so, and the
    sender sees it: the resent message is not numbered right after the last one it knew."""
    w = world
    call = await w.put("создать")
    w.tg.faults.hang(method="sendMessage", seconds=0.6, after_processing=True)
    sender = w.sender(timeouts=(0.2, 0.2))
    await sender.deliver_once()
    row = await w.row(call)
    assert row["maybe_sent_at"] and not row["sent_at"]
    await asyncio.sleep(0.6)
    w.clock.advance(timedelta(seconds=1))
    await sender.drain()
    assert w.texts() == ["создать", "создать"]  # what remains possible when Telegram answers that late
    assert (await w.row(call))["sent_at"]


async def test_a_call_in_flight_when_the_bot_died_is_resent_and_checked(world):
    """The try was recorded, then the bot died before the request left: at the next start the call is "maybe
    sent"; the resend is numbered right after the last known message, so nothing came between: no duplicate."""
    w = world
    await w.put("до")
    await w.sender().drain()
    call = await w.put("в полёте")
    await outbox.start_try(w.db, call, w.clock.now())  # recorded; then kill -9
    w.clock.advance(timedelta(seconds=5))
    sender = w.sender()
    await sender.start()
    try:
        await w.tg.wait_for(lambda: len(w.texts()) == 2, what="the resend")
    finally:
        await sender.stop()
    row = await w.row(call)
    assert row["sent_at"] and row["maybe_sent_at"] and row["attempts"] == 2
    assert w.texts() == ["до", "в полёте"]


async def test_no_connection_is_retried_and_not_taken_for_maybe_sent(world):
    w = world
    nowhere = bot_for("http://127.0.0.1:9", w.tg.token)  # nothing listens on the discard port
    try:
        call = await w.put("текст")
        sender = Sender(nowhere, w.db, w.clock, FAST)
        await sender.deliver_once()
        row = await w.row(call)
        assert row["attempts"] == 1 and row["maybe_sent_at"] is None and not row["failed_at"]
        assert "connect" in row["last_error"].lower()
    finally:
        await nowhere.session.close()


async def test_a_full_disk_after_the_call_sends_nothing_twice(world):
    """Telegram carried the call out, then writing "sent" fails (disk full). The answer is kept, nothing is sent
    again while the disk is full, and it is written once there is room."""
    w = world
    call = await w.put("длинное уведомление " + "ж" * 3000)
    await w.put("следующее")
    w.tg.faults.hang(method="sendMessage", seconds=0.5, after_processing=True)
    sender = w.sender()
    delivering = asyncio.create_task(sender.deliver_once())
    await w.tg.wait_for(lambda: w.tg.bot_messages(w.user), what="the message to arrive")
    await disk.fill(w.db)
    with pytest.raises(Exception, match="full"):
        await delivering
    assert w.db.failing and not w.db.healthy.is_set()
    for _ in range(5):
        with contextlib.suppress(Exception):
            await sender.deliver_once()
        w.clock.advance(timedelta(seconds=2))
    assert len(w.texts()) == 1 and w.tg.call_count("sendMessage") == 1  # nothing repeated, nothing new
    await disk.free(w.db)
    await w.db.probe()
    assert not w.db.failing
    await sender.drain()
    assert (await w.row(call))["sent_at"]
    assert [t[:20] for t in w.texts()] == ["длинное уведомление ", "следующее"]


@pytest.mark.parametrize(("status", "description", "tries"), [
    (409, "Conflict: terminated by other long poll", UNKNOWN_TRIES),  # not expected for sendMessage: bounded
    (413, "Request Entity Too Large", 1),  # never: given up at once
    (400, "Bad Request: message is too long", 1),
])
async def test_other_refusals_end_in_a_dead_letter_and_the_queue_goes_on(world, status, description, tries):
    w = world
    call = await w.put("первое")
    await w.put("второе")
    w.tg.faults.error(status, description, method="sendMessage", times=tries)
    sender = w.sender()
    for attempt in range(1, tries + 1):
        await sender.deliver_once()
        w.clock.advance(backoff(attempt))
    await sender.drain()
    row = await w.row(call)
    assert row["failed_at"] and description in row["last_error"] and row["attempts"] == tries
    assert w.texts() == ["второе"]
    [notice] = w.texts(w.admin)
    assert description.split(":")[0] in notice


async def test_a_revoked_token_keeps_everything_and_tries_every_five_minutes(world):
    w = world
    revoked = bot_for(w.tg.base_url, "999:" + "B" * 35)  # the emulator answers 401 to any other token
    try:
        call = await w.put("важное")
        sender = Sender(revoked, w.db, w.clock, FAST)
        for _ in range(20):
            await sender.deliver_once()
            w.clock.advance(timedelta(minutes=5))
        row = await w.row(call)
        assert not row["failed_at"] and not row["sent_at"] and "401" in row["last_error"]
        assert row["attempts"] == 20
    finally:
        await revoked.session.close()
