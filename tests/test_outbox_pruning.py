"""Delivered calls keep their row and the ids Telegram answered with, not the payload nor the whole answer, once
a day old (storage.retention.prune_delivered, run by the hourly pass): nothing reads them after delivery, but
each chat's latest delivered calls (the duplicate check looks at them: storage.outbox.own_messages)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from datetime import UTC, datetime, timedelta

from storage import outbox
from storage.db import Database, to_db
from storage.retention import prune_delivered
from tests.scenario import Scenario
from tests.test_scenarios import bind, intake

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
MESSAGE = {"message_id": 5, "message_thread_id": 7, "date": 1, "chat": {"id": -100, "type": "supergroup"},
           "text": "Карточка: жители пишут, что …", "reply_markup": {"inline_keyboard": [[{"text": "✅"}]]}}


async def add(db: Database, chat: int, text: str, sent: datetime | None, failed: datetime | None,
              result: str | None) -> None:
    at = to_db(NOW - timedelta(days=3))
    number = outbox.message_of(json.loads(result)) if sent and result else None  # as mark_sent keeps it
    await db.write("INSERT INTO outbox(chat_id, method, payload, purpose, not_before, created_at, sent_at, failed_at, "
                   "result, message_id) VALUES (?, 'sendMessage', ?, ?, ?, ?, ?, ?, ?, ?)",
                   (chat, json.dumps({"chat_id": chat, "text": text}), f"card:{text}", at, at, to_db(sent),
                    to_db(failed), result, number))


async def test_delivered_calls_keep_their_ids_and_nothing_else(tmp_path):
    db = await Database.open(tmp_path / "bot.sqlite3")
    try:
        old = NOW - timedelta(days=2)
        rows = [  # (payload text, sent, failed, result)
            ("pending", None, None, None),
            ("failed", None, old, None),
            ("card", old, None, json.dumps(MESSAGE, ensure_ascii=False)),
            ("copies", old, None, json.dumps([{"message_id": 11}, {"message_id": 12, "x": "y" * 50}])),
            ("topic", old, None, json.dumps({"message_thread_id": 9, "name": "№1 · яма", "icon_color": 1})),
            ("strings", old, None, json.dumps(["message_id=13"])),
            ("closed", old, None, "true"),
            ("not modified", old, None, "null"),
            ("today", NOW, None, json.dumps(MESSAGE, ensure_ascii=False)),
        ]
        for text, sent, failed, result in rows:
            await add(db, -100, text, sent, failed, result)
        assert await prune_delivered(db, NOW - timedelta(days=1), keep_latest=0, batch=2) == 6
        got = [(json.loads(r["payload"]).get("text"), r["result"], r["purpose"], r["sent_at"] is not None)
               for r in await db.fetchall("SELECT payload, result, purpose, sent_at FROM outbox ORDER BY id")]
        assert got == [
            ("pending", None, "card:pending", False), ("failed", None, "card:failed", False),
            (None, '{"message_id":5,"message_thread_id":7}', "card:card", True),
            (None, '[{"message_id":11},{"message_id":12}]', "card:copies", True),
            (None, '{"message_thread_id":9}', "card:topic", True), (None, '["message_id=13"]', "card:strings", True),
            (None, "true", "card:closed", True), (None, "null", "card:not modified", True),
            ("today", json.dumps(MESSAGE, ensure_ascii=False), "card:today", True)]
        assert await prune_delivered(db, NOW - timedelta(days=1), keep_latest=0) == 0  # nothing left to prune
        async with db.transaction() as conn:  # what still reads delivered calls reads the same
            assert await outbox.card_sent_to(conn, "card", -100)  # type: ignore[arg-type]
    finally:
        await db.close()


async def test_each_chats_latest_delivered_calls_stay_whole_for_the_duplicate_check(tmp_path):
    db = await Database.open(tmp_path / "bot.sqlite3")
    try:
        old = NOW - timedelta(days=2)
        for n in range(30):
            await add(db, -100, f"a{n}", old, None, json.dumps({**MESSAGE, "message_id": 100 + n}))
        for n in range(3):
            await add(db, -200, f"b{n}", old, None, json.dumps({**MESSAGE, "message_id": 500 + n}))
        before = (await outbox.last_message_id(db, -100), await outbox.last_message_id(db, -200))
        assert await prune_delivered(db, NOW, batch=4) == 10  # the first ten of -100; its latest 20 and -200's 3 stay
        whole = await db.fetchall("SELECT chat_id, COUNT(*) AS n FROM outbox WHERE payload != '{}' GROUP BY chat_id "
                                  "ORDER BY chat_id")
        assert [tuple(r) for r in whole] == [(-200, 3), (-100, 20)]
        assert (await outbox.last_message_id(db, -100), await outbox.last_message_id(db, -200)) == before == (129, 502)
    finally:
        await db.close()


async def test_the_workflow_runs_on_when_every_delivered_call_is_pruned_at_once(tmp_path):
    """Pruned after every step, all of them: the topic, the card and the replies still resolve ($thread, $card)."""
    async with Scenario.start(tmp_path) as s:
        tg = s.tg

        async def settle_and_prune() -> None:
            await s.settle()
            await prune_delivered(s.app.db, s.clock.now() + timedelta(days=1), keep_latest=0)

        await bind(s)
        await intake(s, "Во дворе дома 5 яма https://vk.com/wall-1_2", ["Управление жилищно-коммунального хозяйства"])
        await settle_and_prune()
        [topic] = tg.topics(s.group)
        card = tg.messages(s.group, topic.thread_id, from_bot=True)[0]
        tg.send_text(s.zhkh, "Яму заделаем до пятницы.", chat=s.group, thread=topic.thread_id)
        await settle_and_prune()
        review = tg.last_bot_message(s.group, topic.thread_id)
        assert "на проверке" in review.text
        tg.press_button(s.coordinator, review, "✅ Согласовать")
        await settle_and_prune()
        tg.press_button(s.coordinator, tg.last_bot_message(s.group, topic.thread_id), "📤 Опубликовано")
        await settle_and_prune()
        tg.send_text(s.coordinator, "https://vk.com/wall-1_2?reply=7", chat=s.group, thread=topic.thread_id)
        await settle_and_prune()
        assert tg.topic(s.group, topic.name).closed
        assert "ответ опубликован" in tg.message(s.group, card.message_id).text
        tg.assert_no_violations()
        with sqlite3.connect(s.settings.database_path) as conn:
            delivered, kept = conn.execute(
                "SELECT COUNT(*), SUM(LENGTH(payload) + IFNULL(LENGTH(result), 0)) FROM outbox "
                "WHERE sent_at IS NOT NULL").fetchone()
        assert delivered >= 8 and kept < 40 * delivered  # ids only, a few bytes a call


async def test_migration_12_keeps_the_numbers_of_what_was_written_before_it(tmp_path):
    """The highest known message number of a chat is read from columns kept at write time (migration 12): rows
    written before it get theirs from their JSON, so the duplicate check after an upgrade knows what it knew."""
    from storage.migrations import MIGRATIONS

    path = tmp_path / "bot.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        for script in MIGRATIONS[:11]:
            conn.executescript(script)
        conn.execute("PRAGMA user_version = 11")
        at = to_db(NOW)
        for chat, result in ((-100, {**MESSAGE, "message_id": 40}), (-100, [{"message_id": 41}, {"message_id": 43}]),
                             (-100, {"message_thread_id": 42, "name": "№1"}), (-200, True)):
            conn.execute("INSERT INTO outbox(chat_id, method, payload, not_before, created_at, sent_at, result) "
                         "VALUES (?, 'sendMessage', '{}', ?, ?, ?, ?)", (chat, at, at, at, json.dumps(result)))
        conn.execute("INSERT INTO inbox(update_id, lane, payload, received_at) VALUES (1, -300, ?, ?)",
                     (json.dumps({"update_id": 1, "callback_query": {"id": "q", "message": {"message_id": 77}}}), at))
        conn.commit()
    db = await Database.open(path)
    try:
        assert [await outbox.last_message_id(db, chat) for chat in (-100, -200, -300)] == [43, None, 77]
    finally:
        await db.close()


async def test_a_delivered_call_keeps_only_the_numbers_telegram_answered(tmp_path):
    """Telegram's whole answer (the message again, its text, its buttons) is not written at all: its numbers are
    all that is read of it later."""
    async with Scenario.start(tmp_path) as s:
        await bind(s)
        await intake(s, "Во дворе дома 5 яма https://vk.com/wall-1_2", ["Управление жилищно-коммунального хозяйства"])
        rows = s._query("SELECT method, result, message_id FROM outbox WHERE sent_at IS NOT NULL")
        kept = {method: (json.loads(result), number) for method, result, number in rows}
        assert set(kept["sendMessage"][0]) <= {"message_id", "message_thread_id"}  # the card: in its topic
        topic, number = kept["createForumTopic"]
        assert topic == {"message_thread_id": number}
        assert [set(c) for c in kept["copyMessages"][0]] == [{"message_id"}]
