"""The sender's order, priorities, concurrency and budgets (bot/sender.py, storage/outbox.py) against the emulator:
what a person waits for overtakes other incidents' calls but never its own incident's; a slow chat delays no other;
background cannot take the group's last slots; only posts are charged, by message count; notices are merged; and
with the emulator's flood control on, Telegram never has to refuse anything (0 × 429)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.sender import RESERVE, RateLimiter, Sender
from emulator import FakeClock as TelegramClock
from emulator import TelegramEmulator
from storage import outbox
from storage.db import Database, to_db

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
FAST = RateLimiter(chat_interval=0.0, group_per_minute=10_000, global_per_second=10_000)
RIGHTS = {"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": True}


@pytest.fixture
async def world(tmp_path):
    """An emulator with flood control on and a clock the test moves (the sender's limiter reads it too)."""
    tg_clock = TelegramClock()
    async with TelegramEmulator(flood_control=True, clock=tg_clock) as tg:
        db = await Database.open(tmp_path / "bot.sqlite3")
        user = tg.create_user("Анна", started=True)
        group = tg.create_supergroup("Группа", forum=True, members=[user], owner=user,
                                     bot_status="administrator", bot_rights=RIGHTS)
        try:
            yield tg, db, tg.create_bot(), user, group, tg_clock
        finally:
            await db.close()


def paced(tg_clock: TelegramClock, **kw: Any) -> RateLimiter:
    """Telegram's limits as the bot assumes them, on the emulator's clock."""
    return RateLimiter(monotonic=tg_clock.monotonic, **kw)


async def put(db: Database, chat_id: int, words: str = "", *, method: str = "sendMessage",
              purpose: str | None = None, priority: int | None = None, **payload: Any) -> int:
    body = {"chat_id": chat_id, **({"text": words} if words else {}), **payload}
    async with db.transaction() as conn:
        return await outbox.enqueue(conn, chat_id, method, body, NOW, purpose=purpose, priority=priority)


async def incident(db: Database, chat_id: int, number: int, thread_id: int | None = None) -> None:
    async with db.transaction() as conn:
        await conn.execute("INSERT OR IGNORE INTO groups(chat_id, title, profile, is_forum, bound_at) "
                           "VALUES (?, 'Группа', 'izobilny', 1, ?)", (chat_id, to_db(NOW)))
        await conn.execute("INSERT INTO incidents(id, chat_id, profile, source, track, state, thread_id, detected_at, "
                           "created_at) VALUES (?, ?, 'izobilny', 'vk', 'standard', 'assigned', ?, ?, ?)",
                           (number, chat_id, thread_id, to_db(NOW), to_db(NOW)))


async def deliver_all(sender: Sender, db: Database, tg_clock: TelegramClock, step: float = 1.0) -> None:
    """Deliver everything, the emulator's clock moving ``step`` seconds between passes."""
    for _ in range(3000):
        if not await outbox.pending_count(db):
            return
        await sender.deliver_once()
        tg_clock.advance(step)
    raise AssertionError("not delivered")


def texts(tg: TelegramEmulator, chat: Any, thread: Any = None) -> list[str]:
    return [m.text for m in tg.bot_messages(chat, thread)]


def floods(tg: TelegramEmulator) -> list[Any]:
    return [c for c in tg.call_log if c.kind == "flood" or c.status == 429]


async def test_a_review_overtakes_other_incidents_calls_and_reminders_but_never_its_own_incidents_posts(world):
    tg, db, bot, _user, group, clock = world
    for number in range(1, 5):
        await incident(db, group.id, number)
    await put(db, group.id, "n1: напоминание по №1", purpose="notice:1")  # background, before №1's review
    await put(db, group.id, "t2: сообщение №2", purpose="thread:2")  # normal, older than №4's review
    await put(db, group.id, "n3: напоминание по №3", purpose="notice:3")
    await put(db, group.id, "r4: ответ №4 на проверке", purpose="review:4")
    await put(db, group.id, "t1: сообщение №1", purpose="thread:1")
    await put(db, group.id, "r1: ответ №1 на проверке", purpose="review:1")
    await deliver_all(Sender(bot, db, FakeClock(NOW), paced(clock)), db, clock)
    said = [t.split(":")[0] for t in texts(tg, group)]
    # №4's review overtakes №2 and №3; №1's post and review keep their order and pass its reminder (a notice
    # holds up nothing queued behind it); the reminders go last, each after what was queued before it
    assert said == ["r4", "t1", "r1", "t2", "n1", "n3"]
    assert not floods(tg)


async def test_a_topic_is_created_before_the_urgent_message_that_goes_into_it(world):
    tg, db, bot, _user, group, _clock = world
    await incident(db, group.id, 1)
    await incident(db, group.id, 2)
    await put(db, group.id, "t2", purpose="thread:2", message_thread_id={"$thread": 2})
    await put(db, group.id, method="createForumTopic", purpose="topic:1", name="№1 Яма")
    await put(db, group.id, "карточка №1", purpose="card:1", message_thread_id={"$thread": 1})
    await put(db, group.id, "ответ №1 на проверке", purpose="review:1", message_thread_id={"$thread": 1},
              reply_markup={"inline_keyboard": [[{"text": "✅", "callback_data": "ok"}]]})
    await Sender(bot, db, FakeClock(NOW), FAST).drain()
    topic = tg.topic(group, "№1 Яма")
    assert texts(tg, group, topic.thread_id) == ["карточка №1", "ответ №1 на проверке"]  # not in General
    order = [c.method if c.method != "sendMessage" else c.params["text"] for c in tg.calls() if c.ok]
    assert order == ["createForumTopic", "карточка №1", "ответ №1 на проверке", "t2"]


async def test_a_reminder_waits_for_its_topic_and_the_topic_is_closed_after_it(world):
    """A notice is passed by what is queued behind it, never by what was queued before it (its topic), and
    closing the topic waits for it."""
    tg, db, bot, _user, group, _clock = world
    await incident(db, group.id, 1)
    await put(db, group.id, method="createForumTopic", purpose="topic:1", name="№1 Яма")
    await put(db, group.id, "⏰ напоминание", purpose="notice:group", message_thread_id={"$thread": 1})
    await put(db, group.id, "ответ №1 на проверке", purpose="review:1", message_thread_id={"$thread": 1})
    await Sender(bot, db, FakeClock(NOW), FAST).drain()
    topic = tg.topic(group, "№1 Яма")
    assert texts(tg, group, topic.thread_id) == ["ответ №1 на проверке", "⏰ напоминание"]  # not in General
    await put(db, group.id, "⏰ ещё напоминание", purpose="notice:group", message_thread_id={"$thread": 1})
    await put(db, group.id, method="closeForumTopic", purpose="thread:1", message_thread_id={"$thread": 1})
    await Sender(bot, db, FakeClock(NOW), FAST).drain()
    assert texts(tg, group, topic.thread_id)[-1] == "⏰ ещё напоминание"
    order = [c.method for c in tg.calls() if c.ok]
    assert order[-2:] == ["sendMessage", "closeForumTopic"]


async def test_closing_a_topic_waits_for_the_incidents_messages_even_when_one_is_retried(world):
    """closeForumTopic names the topic by its number, not by a reference: it is still in its incident's lane,
    so it waits while the incident's last message is retried (a message to a closed topic would land in General)."""
    tg, db, bot, _user, group, _clock = world
    created = await bot.create_forum_topic(group.id, "№1 Яма")
    await incident(db, group.id, 1, thread_id=created.message_thread_id)
    await put(db, group.id, "📤 Ответ размещён. Инцидент №1 закрыт.", purpose="thread:1",
              message_thread_id={"$thread": 1})
    await put(db, group.id, method="closeForumTopic", message_thread_id=created.message_thread_id)
    [lane] = {c.lane for c in await outbox.pending(db)}
    assert lane == "incident:1"
    clock = FakeClock(NOW)
    tg.faults.server_error(502, method="sendMessage", times=1)
    sender = Sender(bot, db, clock, FAST)
    for _ in range(3):
        await sender.deliver_once()
    assert tg.call_count("closeForumTopic") == 0  # the message before it is waiting for its retry
    clock.advance(timedelta(seconds=10))
    await sender.drain()
    assert texts(tg, group, created.message_thread_id) == ["📤 Ответ размещён. Инцидент №1 закрыт."]
    assert tg.topic(group, "№1 Яма").closed


async def test_a_chat_with_thousands_queued_hides_no_other_chats_calls(tmp_path):
    db = await Database.open(tmp_path / "bot.sqlite3")
    try:
        for i in range(60):  # an outage's backlog in one group
            await put(db, -100, f"карточка {i}", method="editMessageText", message_id=i + 1)
        other = await put(db, 42, "ответ человеку")
        calls = await outbox.pending(db, limit=50, per_chat=20)
        assert other in [c.id for c in calls]
        assert sum(c.chat_id == -100 for c in calls) == 20  # the group's oldest, in order
        assert [c.id for c in calls if c.chat_id == -100] == sorted(c.id for c in calls if c.chat_id == -100)
    finally:
        await db.close()


async def test_a_slow_chat_does_not_delay_another(tmp_path):
    async with TelegramEmulator() as tg:
        db = await Database.open(tmp_path / "bot.sqlite3")
        slow, other = tg.create_user("Медленный", started=True), tg.create_user("Другой", started=True)
        hang = tg.faults.hang(method="sendMessage", chat_id=slow.id, seconds=30)
        await put(db, slow.id, "в медленный чат")
        await put(db, other.id, "в другой чат")
        sender = Sender(tg.create_bot(), db, FakeClock(NOW), FAST)
        await sender.start()
        try:
            await tg.wait_for(lambda: hang.hits == 1, what="the slow call")
            await tg.wait_for(lambda: texts(tg, other), timeout=10, what="the other chat's message")
            assert texts(tg, slow) == []  # the slow call is still in flight: the other did not wait for it
        finally:
            await sender.stop(grace=0.1)
            await db.close()


async def test_background_cannot_take_the_groups_last_slots_so_a_review_goes_at_once(world):
    tg, db, bot, _user, group, tg_clock = world
    for i in range(30):  # a digest-like flood of background posts (not notices: they would be merged)
        await put(db, group.id, f"сводка {i}", purpose=f"digest:{i}")
    limiter = paced(tg_clock)
    sender = Sender(bot, db, FakeClock(NOW), limiter)
    for _ in range(59):  # within a minute: background is spread (one per 6 s) and takes at most 10 slots
        await sender.deliver_once()
        tg_clock.advance(1.0)
    background = len(texts(tg, group))
    assert background == 20 - RESERVE[outbox.BACKGROUND]  # the last slots of the minute are kept
    await incident(db, group.id, 7)
    await put(db, group.id, "ответ №7 на проверке", purpose="review:7")
    await sender.deliver_once()
    assert texts(tg, group)[-1] == "ответ №7 на проверке"  # at once, not a minute later
    assert not floods(tg)


async def test_background_waits_for_a_lull_after_what_people_wait_for_but_not_for_ever(world):
    """A slot a reminder takes is gone for a minute: after a review in the group, background posts wait until
    none has gone for ``lull`` seconds (reviews come in bursts), at most ``hold`` seconds."""
    tg, db, bot, _user, group, tg_clock = world
    limiter = paced(tg_clock, lull=20.0, hold=50.0)
    sender = Sender(bot, db, FakeClock(NOW), limiter)
    await incident(db, group.id, 1)
    await put(db, group.id, "ответ №1 на проверке", purpose="review:1")
    await sender.deliver_once()
    await put(db, group.id, "⏰ напоминание", purpose="notice:group")
    await put(db, group.id, "сводка", purpose="digest:1")
    for _ in range(19):
        tg_clock.advance(1.0)
        await sender.deliver_once()
    assert texts(tg, group) == ["ответ №1 на проверке"]  # 19 s after the review: still held
    tg_clock.advance(1.5)
    await sender.deliver_once()
    assert texts(tg, group)[1] == "⏰ напоминание"  # 20 s of quiet: it goes
    for _ in range(30):  # reviews every 10 s: no lull, but a background post is held 50 s at most
        await put(db, group.id, "ответ №1 на проверке", purpose="review:1")
        for _ in range(10):
            await sender.deliver_once()
            tg_clock.advance(1.0)
        if "сводка" in texts(tg, group):
            break
    assert texts(tg, group).index("сводка") in range(2 + 3, 2 + 6)  # released by the hold (50 s), not at once
    assert not floods(tg)


async def test_only_posts_are_charged_and_copies_count_each_message(world):
    tg, db, bot, user, group, tg_clock = world
    card = await bot.send_message(group.id, "карточка")
    originals = [(await bot.send_message(user.id, f"оригинал {i}")).message_id for i in range(3)]
    tg_clock.advance(60.0)  # what the setup posted is out of the window
    await put(db, group.id, method="copyMessages", from_chat_id=user.id, message_ids=originals,
              priority=outbox.URGENT)
    for i in range(18):  # with the 3 copies, one more than the 20 a minute
        await put(db, group.id, f"сообщение {i}", priority=outbox.URGENT)
    for i in range(12):
        await put(db, group.id, f"карточка {i}", method="editMessageText", message_id=card.message_id)
    sender = Sender(bot, db, FakeClock(NOW), paced(tg_clock))
    started = tg_clock.monotonic()
    while await outbox.pending_count(db) and tg_clock.monotonic() - started < 59:
        await sender.deliver_once()
        tg_clock.advance(0.5)
    # the 3 copies count 3: 17 messages fill the minute, the 18th waits; the 12 edits went within the same minute
    assert tg.call_count("editMessageText", ok_only=True) == 12
    assert len(tg.bot_messages(group)) == 1 + 3 + 17
    assert await outbox.pending_count(db) == 1
    assert not floods(tg)


async def test_notices_to_the_same_place_go_out_as_one_message(world):
    tg, db, bot, _user, group, tg_clock = world
    ids = [await put(db, group.id, f"⏰ напоминание {i}", purpose="notice:group") for i in range(4)]
    buttons = await put(db, group.id, "⏰ с кнопкой", purpose="notice:group",
                        reply_markup={"inline_keyboard": [[{"text": "ок", "callback_data": "ok"}]]})
    sender = Sender(bot, db, FakeClock(NOW), paced(tg_clock))
    await deliver_all(sender, db, tg_clock)
    assert texts(tg, group) == ["\n\n".join(f"⏰ напоминание {i}" for i in range(4)), "⏰ с кнопкой"]
    rows = [await db.fetchone("SELECT sent_at, result, merged_into FROM outbox WHERE id = ?", (i,)) for i in ids]
    assert all(r["sent_at"] for r in rows) and len({r["result"] for r in rows}) == 1
    assert [r["merged_into"] for r in rows] == [None, ids[0], ids[0], ids[0]]
    assert (await db.fetchone("SELECT merged_into FROM outbox WHERE id = ?", (buttons,)))["merged_into"] is None


async def test_a_lone_notice_waits_a_moment_for_the_next_one(world):
    tg, db, bot, _user, group, tg_clock = world
    sender = Sender(bot, db, FakeClock(NOW), paced(tg_clock, coalesce_window=3.0))
    await put(db, group.id, "⏰ первое", purpose="notice:group")
    await sender.deliver_once()
    assert texts(tg, group) == []  # held for the window
    tg_clock.advance(1.5)
    await put(db, group.id, "⏰ второе", purpose="notice:group")
    await sender.deliver_once()
    assert texts(tg, group) == []
    tg_clock.advance(1.6)  # the first one's window is over
    await sender.deliver_once()
    assert texts(tg, group) == ["⏰ первое\n\n⏰ второе"]


async def test_a_merged_notice_interrupted_by_a_crash_is_resent_once_with_the_others(world, tmp_path):
    tg, _db, bot, _user, group, _clock = world
    db = await Database.open(tmp_path / "crash.sqlite3")
    ids = [await put(db, group.id, f"⏰ {i}", purpose="notice:group") for i in range(3)]
    [head] = [c for c in await outbox.pending(db) if c.id == ids[0]]
    await outbox.merge(db, head, "⏰ 0\n\n⏰ 1\n\n⏰ 2", ids[1:])
    await outbox.start_try(db, ids[0], NOW)  # recorded; then kill -9 before the call
    await db.close()
    db2 = await Database.open(tmp_path / "crash.sqlite3")
    try:
        sender = Sender(bot, db2, FakeClock(NOW), FAST)
        assert await outbox.recover(db2) == 1
        await sender.drain()
        assert texts(tg, group) == ["⏰ 0\n\n⏰ 1\n\n⏰ 2"]
        rows = await db2.fetchall("SELECT sent_at FROM outbox")
        assert all(r["sent_at"] for r in rows)
    finally:
        await db2.close()


async def test_no_429_under_flood_control_with_several_chats_at_once(world):
    tg, db, bot, user, group, tg_clock = world
    other = tg.create_supergroup("Вторая", members=[user], owner=user, bot_status="administrator",
                                 bot_rights=RIGHTS)
    people = [tg.create_user(f"Человек {i}", started=True) for i in range(3)]
    originals = [(await bot.send_message(user.id, f"оригинал {i}")).message_id for i in range(2)]
    tg_clock.advance(60.0)
    priorities = [outbox.URGENT, outbox.NORMAL, outbox.BACKGROUND]
    for number in range(1, 5):
        await incident(db, group.id, number)
    for i in range(24):
        await put(db, group.id, f"группа {i}", priority=priorities[i % 3], purpose=f"thread:{i % 4 + 1}")
        await put(db, other.id, f"вторая {i}", purpose=f"digest:{i}")
        if i % 10 == 0:
            await put(db, group.id, method="copyMessages", from_chat_id=user.id, message_ids=originals)
        await put(db, people[i % 3].id, f"лично {i}")
    sender = Sender(bot, db, FakeClock(NOW), paced(tg_clock))
    await deliver_all(sender, db, tg_clock, step=0.25)
    assert len(tg.bot_messages(group)) == 24 + 3 * 2 and len(tg.bot_messages(other)) == 24
    assert not floods(tg)
    tg.assert_no_violations()


@pytest.mark.parametrize(("purpose", "chat_id", "expected"), [
    ("review:1", -100, outbox.URGENT), ("panel:5", 5, outbox.URGENT), ("panel-edit:5", 5, outbox.URGENT),
    (None, 5, outbox.URGENT), ("topic:1", -100, outbox.NORMAL), ("card:1", -100, outbox.NORMAL),
    ("thread:1", -100, outbox.NORMAL), (None, -100, outbox.NORMAL), ("notice:1", -100, outbox.BACKGROUND),
    ("notice:escalation", 5, outbox.BACKGROUND), ("digest:-100", 5, outbox.BACKGROUND),
    ("edit:1", -100, outbox.BACKGROUND),
])
def test_priority_of_a_purpose(purpose, chat_id, expected):
    assert outbox.priority_of(chat_id, "sendMessage", purpose) == expected


def test_every_reference_puts_a_call_in_its_incidents_lane():
    for purpose, payload in [("topic:3", {}), ("card:3", {}), ("edit:3", {}), ("ticks:3:17", {}), ("notice:3", {}),
                             (None, {"message_thread_id": {"$thread": 3}}), (None, {"message_id": {"$card": 3}}),
                             (None, {"message_id": {"$review": 3}}), (None, {"reply_parameters": {"$card": 3}})]:
        assert outbox.lane_of(-100, purpose, payload, outbox.NORMAL) == "incident:3", (purpose, payload)
    assert outbox.lane_of(-100, None, {"message_thread_id": 55}, outbox.NORMAL, thread_incident=3) == "incident:3"
    assert outbox.lane_of(5, "panel:5", {}, outbox.URGENT) == "priority:0"
    assert outbox.lane_of(-100, "notice:dead:-100", {}, outbox.BACKGROUND) == "priority:2"


async def test_the_running_sender_serves_chats_concurrently_and_stops_gracefully(tmp_path):
    async with TelegramEmulator() as tg:
        db = await Database.open(tmp_path / "bot.sqlite3")
        users = [tg.create_user(f"Человек {i}", started=True) for i in range(6)]
        tg.faults.hang(method="sendMessage", seconds=0.5, after_processing=True, times=None)
        for user in users:
            await put(db, user.id, "раз")
        sender = Sender(tg.create_bot(), db, FakeClock(NOW), FAST)
        await sender.start()
        try:
            await tg.wait_for(lambda: len(tg.calls("sendMessage")) == len(users), what="every chat's answer")
            assert max(_overlap(tg)) > 1  # several calls were in flight at once
        finally:
            await sender.stop()
            tg.faults.clear()
        assert await outbox.pending_count(db) == 0
        await db.close()


def _overlap(tg: TelegramEmulator) -> list[int]:
    calls = [c for c in tg.calls("sendMessage")]
    return [sum(1 for d in calls if d.time <= c.time < d.time + 0.5) for c in calls]
