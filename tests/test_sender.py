"""The outbox sender against the emulator: order per chat, retries, refusals, restarts, pacing."""

from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import FakeClock
from bot.sender import RateLimiter, Sender
from emulator import TelegramEmulator
from storage import outbox
from storage.db import Database

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
FAST = RateLimiter(chat_interval=0.0, group_per_minute=10_000, global_per_second=10_000)


@pytest.fixture
async def world(tmp_path):
    async with TelegramEmulator() as tg:
        db = await Database.open(tmp_path / "bot.sqlite3")
        user = tg.create_user("Анна", started=True)
        yield tg, db, tg.create_bot(), user
        await db.close()


async def put(db: Database, chat_id: int, text: str, now: datetime = NOW) -> int:
    async with db.transaction() as conn:
        return await outbox.enqueue(conn, chat_id, "sendMessage", {"chat_id": chat_id, "text": text}, now)


async def test_delivers_in_order_and_marks_sent(world):
    tg, db, bot, user = world
    for i in range(5):
        await put(db, user.id, f"сообщение {i}")
    await Sender(bot, db, FakeClock(NOW), FAST).drain()
    assert [m.text for m in tg.bot_messages(user)] == [f"сообщение {i}" for i in range(5)]
    assert await outbox.pending_count(db) == 0
    tg.assert_no_violations()


async def test_429_waits_retry_after_then_delivers_once(world):
    tg, db, bot, user = world
    clock = FakeClock(NOW)
    await put(db, user.id, "первое")
    await put(db, user.id, "второе")
    tg.faults.retry_after(7, method="sendMessage")
    sender = Sender(bot, db, clock, FAST)
    await sender.deliver_once()
    assert tg.bot_messages(user) == []
    await sender.deliver_once()  # still 7 s to wait: nothing is tried, the order is kept
    assert len(tg.calls("sendMessage")) == 1
    clock.advance(timedelta(seconds=7))
    await sender.drain()
    assert [m.text for m in tg.bot_messages(user)] == ["первое", "второе"]


@pytest.mark.parametrize("status", [500, 502])
async def test_server_errors_are_retried_with_backoff(world, status):
    tg, db, bot, user = world
    clock = FakeClock(NOW)
    await put(db, user.id, "важное")
    tg.faults.server_error(status, method="sendMessage", times=2)
    sender = Sender(bot, db, clock, FAST)
    for _ in range(2):
        await sender.deliver_once()
        clock.advance(timedelta(seconds=10))
    await sender.drain()
    assert [m.text for m in tg.bot_messages(user)] == ["важное"]
    row = await db.fetchone("SELECT attempts, last_error FROM outbox")
    assert row["attempts"] == 3 and row["last_error"]


async def test_bad_request_is_failed_and_the_queue_goes_on(world):
    tg, db, bot, user = world
    await put(db, user.id, "<script>нельзя</script>")  # Telegram refuses the HTML
    await put(db, user.id, "следующее")
    await Sender(bot, db, FakeClock(NOW), FAST).drain()
    assert [m.text for m in tg.bot_messages(user)] == ["следующее"]
    row = await db.fetchone("SELECT failed_at, last_error FROM outbox WHERE id = 1")
    assert row["failed_at"] and "parse" in row["last_error"].lower()


async def test_message_not_modified_counts_as_done(world):
    _tg, db, bot, user = world
    sent = await bot.send_message(user.id, "текст")
    async with db.transaction() as conn:
        await outbox.enqueue(conn, user.id, "editMessageText",
                             {"chat_id": user.id, "message_id": sent.message_id, "text": "текст"}, NOW)
    await Sender(bot, db, FakeClock(NOW), FAST).drain()
    row = await db.fetchone("SELECT sent_at, failed_at FROM outbox")
    assert row["sent_at"] and not row["failed_at"]


async def test_a_restart_sends_what_was_not_confirmed_and_nothing_twice(world, tmp_path):
    tg, db, bot, user = world
    await put(db, user.id, "до падения")
    await Sender(bot, db, FakeClock(NOW), FAST).drain()
    await put(db, user.id, "после падения")
    await db.close()  # the process dies with one row unsent
    db2 = await Database.open(tmp_path / "bot.sqlite3")
    try:
        await Sender(bot, db2, FakeClock(NOW), FAST).drain()
    finally:
        await db2.close()
    assert [m.text for m in tg.bot_messages(user)] == ["до падения", "после падения"]


def test_rate_limiter_keeps_a_group_under_20_a_minute():
    limiter = RateLimiter()
    t = 0.0
    sent = []
    while len(sent) < 45:
        wait = limiter.ready_in(-100, t)
        if wait > 0:
            t += wait
            continue
        limiter.record(-100, t)
        sent.append(t)
    for i in range(len(sent) - 20):
        assert sent[i + 20] - sent[i] >= 60  # any 21 messages span a minute or more
    # a bucket of 3 refilled at one a second, as Telegram (and the emulator) allow: any k+3 span k seconds
    assert all(sent[j] - sent[i] >= j - i - 2 - 1e-9 for i in range(len(sent)) for j in range(i + 3, len(sent)))


def test_rate_limiter_overall_30_a_second():
    limiter = RateLimiter()
    times = []
    t = 0.0
    chat = 1
    while len(times) < 90:
        wait = limiter.ready_in(chat, t)
        if wait > 0:
            t += wait
            continue
        limiter.record(chat, t)
        times.append(t)
        chat += 1  # a different private chat each time: only the global limit applies
    for i in range(len(times) - 30):
        assert times[i + 30] - times[i] >= 1.0
