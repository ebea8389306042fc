"""Nothing accepted is lost, nothing is sent twice: the findings of issue 12, each reproduced against the bot.

1. an update confirmed to Telegram before it was handled was lost in a crash;
2. one unexpected answer blocked a chat's queue for good;
3. calls Telegram carried out were repeated (SIGTERM mid-call, kill -9 mid-call);
4. a full disk made the bot re-post a notice every second and drop forwards;
5. an unusable database hung the start; a deleted one went unnoticed.

The kill -9 and SIGTERM ones run ``python -m bot`` as a process of its own (tests/process.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from emulator import Message
from tests import disk
from tests.process import ProcessWorld
from tests.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]
ZHKH = "Управление жилищно-коммунального хозяйства"
ROADS = "Отдел дорожного хозяйства и транспорта"
SEND = "📨 Отправить в группу"


# --- helpers for the bot in its own process ----------------------------------------------------------------


async def bind(w: ProcessWorld) -> None:
    w.tg.send_text(w.people["coordinator"], "/bind", chat=w.group)
    await w.tg.wait_for_message(w.group, timeout=15)


async def panel(w: ProcessWorld, text: str) -> Message:
    coordinator = w.people["coordinator"]
    w.tg.send_text(coordinator, text)
    return await w.tg.wait_for_message(coordinator, timeout=15)


async def press(w: ProcessWorld, message: Message, label: str) -> None:
    user = w.people["coordinator"]
    qid = w.tg.press_button(user, w.tg.message(message.chat.id, message.message_id), label)
    await w.tg.wait_for(lambda: w.tg.callback_answer(qid).answered, timeout=15, what=f"the press on {label}")


def cards(w: ProcessWorld, number: int = 1) -> list[Message]:
    return [m for m in w.tg.messages(w.group, from_bot=True) if (m.text or "").startswith(f"№{number} ·")]


@contextlib.contextmanager
def database_busy(path: Path) -> Iterator[None]:
    """Another writer holds the database (a backup, a slow disk): the bot's writes wait."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


# --- 1. an update is stored before Telegram is told to forget it ---------------------------------------------


async def first_from_bot(tg, chat):
    """The bot's first message in the chat: it may come before the restarted bot is seen ready."""
    messages = await tg.wait_for(lambda: tg.messages(chat, from_bot=True), timeout=20, what="the bot's reply")
    return messages[0]


async def test_1_a_forward_the_bot_could_not_store_before_kill_9_is_handled_after_the_restart(tmp_path):
    async with ProcessWorld.start(tmp_path) as w:
        tg, coordinator = w.tg, w.people["coordinator"]
        await w.bot.start()
        await bind(w)
        with database_busy(w.bot.database):
            tg.send_text(coordinator, "Яма у дома 3 https://vk.com/wall-1_3")
            await tg.wait_for(lambda: not tg.updates.pending or tg.updates.delivered[-1]["update_id"]
                              == tg.updates.pending[-1]["update_id"], timeout=10, what="the forward to be fetched")
            await asyncio.sleep(1.5)  # aiogram's polling would have confirmed it by now
            await w.bot.kill()
        await w.bot.start()
        first = await first_from_bot(tg, coordinator)
        assert SEND in first.button_texts
        await asyncio.sleep(1.0)
        assert len(tg.messages(coordinator, from_bot=True)) == 1


async def test_1_an_update_whose_reply_was_in_flight_at_kill_9_is_handled_after_the_restart(tmp_path):
    async with ProcessWorld.start(tmp_path) as w:
        tg, coordinator = w.tg, w.people["coordinator"]
        await w.bot.start()
        hang = tg.faults.hang(method="sendMessage", chat_id=coordinator.id)  # never answered, never carried out
        tg.send_text(coordinator, "/start")  # answered straight from the handler, not through the outbox
        await tg.wait_for(lambda: hang.hits == 1 and not tg.updates.pending, timeout=15,
                          what="the reply in flight and the update confirmed")
        await w.bot.kill()
        tg.faults.clear()
        await w.bot.start()
        reply = await first_from_bot(tg, coordinator)
        assert "/status" in reply.text
        await asyncio.sleep(1.0)
        assert len(tg.messages(coordinator, from_bot=True)) == 1


# --- 3. what Telegram did is not done again -------------------------------------------------------------------


async def intake_until_the_card(w: ProcessWorld, text: str) -> None:
    """The coordinator forwards, picks the department; the caller arms a fault and presses Send."""
    p = await panel(w, text)
    await press(w, p, ZHKH)
    return p


async def kill_while_hanging(w: ProcessWorld, text: str, what: str, **hang: Any) -> None:
    """The post forwarded and sent to the group; the bot killed while the call the fault ``hang`` names hangs."""
    tg = w.tg
    p = await intake_until_the_card(w, text)
    call = tg.faults.hang(**hang)
    tg.press_button(w.people["coordinator"], tg.message(p.chat.id, p.message_id), SEND)
    await tg.wait_for(lambda: call.hits == 1, timeout=15, what=what)
    await w.bot.kill()
    tg.faults.clear()


async def test_3_sigterm_while_the_card_is_in_flight_waits_for_it_and_sends_it_once(tmp_path):
    async with ProcessWorld.start(tmp_path) as w:
        tg = w.tg
        await w.bot.start()
        await bind(w)
        p = await intake_until_the_card(w, "Яма у дома 5 https://vk.com/wall-1_5")
        slow = tg.faults.hang(method="sendMessage", chat_id=w.group.id, seconds=2.0, after_processing=True)
        tg.press_button(w.people["coordinator"], tg.message(p.chat.id, p.message_id), SEND)
        await tg.wait_for(lambda: slow.hits == 1, timeout=15, what="the card in flight")
        assert await w.bot.terminate() == 0
        stopping_log = w.bot.log()
        await w.bot.start()
        await tg.wait_for(lambda: tg.call_count("copyMessages", ok_only=True) == 1, timeout=20, what="the copy")
        await asyncio.sleep(0.5)
        assert len(tg.topics(w.group)) == 1
        assert len(cards(w)) == 1
        [card_id] = w.bot.query("SELECT card_message_id FROM incidents WHERE id = 1")[0]
        assert cards(w)[0].message_id == card_id
        assert "ServerDisconnected" not in stopping_log  # the session was not closed under the call


async def test_3_kill_9_after_telegram_made_the_card_leaves_no_copy(tmp_path):
    """Telegram made the card and the bot died before it heard: the card is sent again, the bot finds the copy
    (the one message it does not know of, with the card's own keyboard) and deletes it."""
    async with ProcessWorld.start(tmp_path) as w:
        tg = w.tg
        await w.bot.start()
        await bind(w)
        await kill_while_hanging(w, "Яма у дома 6 https://vk.com/wall-1_6", "the card made, its answer hanging",
                                 method="sendMessage", chat_id=w.group.id, after_processing=True)  # done, unanswered
        await w.bot.start()
        await tg.wait_for(lambda: tg.call_count("copyMessages", ok_only=True) == 1, timeout=20, what="the copy")
        await tg.wait_for(lambda: len(cards(w)) == 1, timeout=10, what="the copy of the card deleted")
        [live] = cards(w)
        [card_id] = w.bot.query("SELECT card_message_id FROM incidents WHERE id = 1")[0]
        assert live.message_id == card_id
        assert [m.text for m in tg.deleted_messages(w.group) if (m.text or "").startswith("№1 ·")]
        assert not any((m.text or "").startswith("♻️") for m in tg.messages(w.group, from_bot=True))


async def test_3_kill_9_after_telegram_made_the_topic_leaves_no_empty_copy(tmp_path):
    async with ProcessWorld.start(tmp_path) as w:
        tg = w.tg
        await w.bot.start()
        await bind(w)
        await kill_while_hanging(w, "Яма у дома 16 https://vk.com/wall-1_16", "the topic made, its answer hanging",
                                 method="createForumTopic", after_processing=True)
        await w.bot.start()
        await tg.wait_for(lambda: tg.call_count("copyMessages", ok_only=True) == 1, timeout=20, what="the copy")
        [topic] = tg.topics(w.group)  # the empty copy is deleted
        assert len(tg.topics(w.group, include_deleted=True)) == 2
        [thread_id] = w.bot.query("SELECT thread_id FROM incidents WHERE id = 1")[0]
        assert topic.thread_id == thread_id and len(cards(w)) == 1


async def test_3_a_copy_the_bot_cannot_check_is_marked_in_the_thread(tmp_path):
    """What remains possible: Telegram made the card, the bot died before it heard, and someone wrote in the
    group meanwhile, so the bot cannot tell the copy by its number. The card is sent again and the thread says
    which card is live; only the live one is updated."""
    async with ProcessWorld.start(tmp_path) as w:
        tg = w.tg
        await w.bot.start()
        await bind(w)
        await kill_while_hanging(w, "Яма у дома 17 https://vk.com/wall-1_17", "the card made, its answer hanging",
                                 method="sendMessage", chat_id=w.group.id, after_processing=True)
        [topic] = tg.topics(w.group)
        tg.send_text(w.people["roads"], "Это не к нам?", chat=w.group, thread=topic.thread_id)
        tg.send_text(w.people["roads"], "Похоже, к ЖКХ.", chat=w.group, thread=topic.thread_id)
        await w.bot.start()
        await tg.wait_for(lambda: any((m.text or "").startswith("♻️ Карточка №1 отправлена повторно")
                                      for m in tg.messages(w.group, topic.thread_id, from_bot=True)),
                          timeout=20, what="the note saying which card is live")
        orphan, live = cards(w)
        [card_id] = w.bot.query("SELECT card_message_id FROM incidents WHERE id = 1")[0]
        assert live.message_id == card_id
        tg.send_text(w.people["zhkh"], "Яму у дома 17 заделаем завтра.", chat=w.group, thread=topic.thread_id)
        await tg.wait_for(lambda: "на согласовании" in (tg.message(w.group.id, live.message_id).text or ""),
                          timeout=20, what="the live card to show the review")
        assert tg.message(w.group.id, orphan.message_id).text == orphan.text


async def test_3_a_copy_of_the_post_made_before_kill_9_is_found_among_peoples_messages_and_deleted(tmp_path):
    """Telegram copied the post, the bot died before it heard, and a head wrote in the topic meanwhile: the copy is
    sent again, and of the numbers between, the one that is the bot's own (asked without changing anything) is
    the first copy: deleted. The head's message stays."""
    async with ProcessWorld.start(tmp_path) as w:
        tg = w.tg
        await w.bot.start()
        await bind(w)
        await kill_while_hanging(w, "Яма у дома 18 https://vk.com/wall-1_18", "the copy made, its answer hanging",
                                 method="copyMessages", after_processing=True)  # done, never answered
        [topic] = tg.topics(w.group)
        tg.send_text(w.people["zhkh"], "Смотрим.", chat=w.group, thread=topic.thread_id)
        await w.bot.start()
        await tg.wait_for(lambda: tg.call_count("deleteMessage", ok_only=True) == 1, timeout=20,
                          what="the first copy deleted")
        copies = [m for m in tg.messages(w.group, topic.thread_id, from_bot=True) if "Яма у дома 18" in (m.text or "")
                  and not (m.text or "").startswith("№")]
        assert len(copies) == 1
        assert [m.text for m in tg.messages(w.group, topic.thread_id, from_bot=False)] == ["Смотрим."]


async def test_3_kill_9_before_telegram_made_the_card_sends_it_once_and_says_nothing(tmp_path):
    async with ProcessWorld.start(tmp_path) as w:
        tg = w.tg
        await w.bot.start()
        await bind(w)
        await kill_while_hanging(w, "Яма у дома 7 https://vk.com/wall-1_7", "the card in flight",
                                 method="sendMessage", chat_id=w.group.id)  # never carried out
        await w.bot.start()
        await tg.wait_for(lambda: tg.call_count("copyMessages", ok_only=True) == 1, timeout=20, what="the copy")
        [topic] = tg.topics(w.group)
        assert len(cards(w)) == 1
        assert not any("♻️" in (m.text or "") for m in tg.messages(w.group, topic.thread_id, from_bot=True))


# --- helpers for the bot in the test's process ----------------------------------------------------------------


async def s_bind(s: Scenario, group=None) -> None:
    s.tg.send_text(s.coordinator, "/bind", chat=group or s.group)
    await s.settle()


async def s_press(s: Scenario, message: Message, label: str) -> None:
    s.tg.press_button(s.coordinator, s.tg.message(message.chat.id, message.message_id), label)
    await s.settle()


async def s_intake(s: Scenario, text: str, department: str = ZHKH) -> Message:
    """The coordinator forwards a post and sends it to the group; the panel."""
    s.tg.send_text(s.coordinator, text)
    p = await s.tg.wait_for_message(s.coordinator)
    await s.settle()
    await s_press(s, p, department)
    await s_press(s, p, SEND)
    return p


async def quiet(s: Scenario) -> None:
    """The bot handled what it was given and makes no call (rows postponed by a backoff may wait)."""
    await asyncio.sleep(0.1)  # a woken sender gets its turn
    await s.tg.settle(quiet=0.2, timeout=10)
    await s.tg.wait_for(lambda: not s.app.inbox.busy, what="the inbox to be idle")
    await s.tg.settle(quiet=0.2, timeout=10)


def advance(s: Scenario, seconds: float) -> None:
    s.clock.advance(timedelta(seconds=seconds))
    s.app.sender.wake()


# --- 2. no answer blocks a chat's queue -------------------------------------------------------------------------


async def test_2_a_method_the_server_does_not_know_is_given_up_and_the_group_queue_goes_on(tmp_path):
    """A self-hosted Bot API server without copyMessages answers 404: tried with backoff, then given up (the
    administrator told once); the head's answer behind it reaches the group."""
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await s_bind(s)
        tg.faults.error(404, "Not Found", method="copyMessages", times=None)
        await s_intake(s, "Яма у дома 8 https://vk.com/wall-1_8")
        [topic] = tg.topics(s.group)
        assert tg.call_count("copyMessages") == 1
        await asyncio.sleep(1.5)  # no clock moved: no retry (it used to be tried every second, forever)
        assert tg.call_count("copyMessages") == 1
        tg.send_text(s.zhkh, "Яму у дома 8 заделаем 30 ноября.", chat=s.group, thread=topic.thread_id)
        await quiet(s)
        for step in (1, 2, 4, 8):
            advance(s, step)
            await quiet(s)
        await s.settle()
        assert tg.call_count("copyMessages") == 5
        texts = [m.text or "" for m in tg.messages(s.group, topic.thread_id, from_bot=True)]
        assert any("Яму у дома 8 заделаем 30 ноября." in t for t in texts)
        notices = [m.text for m in tg.messages(s.coordinator, from_bot=True) if "не доставлено" in (m.text or "")]
        assert len(notices) == 1 and "404" in notices[0]


async def test_2_a_proxy_error_page_is_retried_with_backoff_and_delivered_once(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await s_bind(s)
        await s_intake(s, "Яма у дома 9 https://vk.com/wall-1_9")
        [topic] = tg.topics(s.group)
        tg.faults.server_error(502, method="sendMessage", chat_id=s.group.id, times=2, html=True)
        tg.send_text(s.zhkh, "Яму у дома 9 заделаем 1 декабря.", chat=s.group, thread=topic.thread_id)
        await quiet(s)
        await asyncio.sleep(1.2)
        assert len(tg.errors("sendMessage")) == 1  # backoff: not once a second
        advance(s, 1)
        await quiet(s)
        assert len(tg.errors("sendMessage")) == 2
        advance(s, 2)
        await s.settle()
        texts = [m.text or "" for m in tg.messages(s.group, topic.thread_id, from_bot=True)]
        assert sum("Яму у дома 9 заделаем 1 декабря." in t for t in texts) == 1


async def test_2_a_group_upgraded_to_a_supergroup_moves_with_its_incidents_and_queue(tmp_path):
    """Someone switched Topics on in a basic group: Telegram made it a supergroup with a new id. The bot moves the
    group, its incidents, its departments and people and what is queued for it, and carries on there."""
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        rights = {"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": True}
        basic = tg.create_group("ЖКХ и дороги", members=list(s.people.values()), owner=s.coordinator,
                                bot_status="administrator", bot_rights=rights)
        await s_bind(s, basic)
        await s_intake(s, "Яма у дома 10 https://vk.com/wall-1_10")
        assert any((m.text or "").startswith("№1 ·") for m in tg.messages(basic, from_bot=True))
        upgraded = tg.create_supergroup("ЖКХ и дороги", members=list(s.people.values()), owner=s.coordinator,
                                        bot_status="administrator", bot_rights=rights)
        tg.faults.migrate(upgraded.id, chat_id=basic.id)
        await s_intake(s, "Упало дерево на Ленина 4 https://vk.com/wall-1_11")
        card = next(m for m in tg.messages(upgraded, from_bot=True) if (m.text or "").startswith("№2 ·"))
        assert s._query("SELECT chat_id FROM groups") == [(upgraded.id,)]
        assert s._query("SELECT DISTINCT chat_id FROM incidents") == [(upgraded.id,)]
        assert s._query("SELECT COUNT(*) FROM departments WHERE chat_id = ?", basic.id) == [(0,)]
        assert s._query("SELECT COUNT(*) FROM memberships WHERE chat_id = ?", basic.id) == [(0,)]
        assert s._query("SELECT COUNT(*) FROM outbox WHERE chat_id = ? AND sent_at IS NULL AND failed_at IS NULL",
                        basic.id) == [(0,)]
        # the head answers there, replying to the card: it is taken as the answer
        tg.send_text(s.zhkh, "Дерево уберём сегодня.", chat=upgraded, reply_to=card)
        await s.settle()
        assert any("Дерево уберём сегодня." in (m.text or "") and "✅ Согласовать" in m.button_texts
                   for m in tg.messages(upgraded, from_bot=True))


async def test_2_a_group_upgraded_while_nothing_is_queued_is_followed_at_once(tmp_path):
    """The bot follows the group on Telegram's service message, before it has anything to send: the head's answer
    written in the new supergroup is taken."""
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        rights = {"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": True}
        basic = tg.create_group("ЖКХ и дороги", members=list(s.people.values()), owner=s.coordinator,
                                bot_status="administrator", bot_rights=rights)
        await s_bind(s, basic)
        await s_intake(s, "Яма у дома 18 https://vk.com/wall-1_18")
        upgraded = tg.upgrade_group(basic)
        await s.settle()
        assert s._query("SELECT chat_id FROM groups") == [(upgraded.id,)]
        # the card is posted anew there (nobody can reply to the old one); the head answers it
        card = next(m for m in tg.messages(upgraded, from_bot=True) if (m.text or "").startswith("№1 ·"))
        assert s._query("SELECT card_message_id FROM incidents") == [(card.message_id,)]
        tg.send_text(s.zhkh, "Яму у дома 18 заделаем в среду.", chat=upgraded, reply_to=card)
        await s.settle()
        assert s._query("SELECT state FROM incidents") == [("review",)]
        assert any("Яму у дома 18 заделаем в среду." in (m.text or "") and "✅ Согласовать" in m.button_texts
                   for m in tg.messages(upgraded, from_bot=True))


# --- 4. a full disk: loud, safe, nothing repeated, back by itself ----------------------------------------------------


def reviews(s: Scenario, topic) -> list[Message]:
    return [m for m in s.tg.messages(s.group, topic.thread_id, from_bot=True) if "заделаем 2 декабря" in (m.text or "")]


async def test_4_a_full_disk_repeats_nothing_drops_nothing_says_so_and_recovers_by_itself(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        s.app.alarm.probe_every = 0.2
        await s_bind(s)
        await s_intake(s, "Яма у дома 12 https://vk.com/wall-1_12")
        [topic] = tg.topics(s.group)
        answer = "Яму у дома 12 заделаем 2 декабря. " + "Щебень и асфальт завезём заранее. " * 80
        slow = tg.faults.hang(method="sendMessage", chat_id=s.group.id, seconds=0.5, after_processing=True)
        tg.send_text(s.zhkh, answer, chat=s.group, thread=topic.thread_id)
        await tg.wait_for(lambda: slow.hits == 1, what="the review message on its way")
        await disk.fill(s.app.db)  # Telegram posts it; writing "sent" will not fit
        forward = "Упало дерево на Ленина 14, перегородило проезд. " * 60
        tg.send_text(s.coordinator, forward)
        await asyncio.sleep(3)  # it used to re-post the review every second meanwhile
        assert len(reviews(s, topic)) == 1
        said = [m.text for m in tg.messages(s.coordinator, from_bot=True)]
        assert sum(t.startswith("⏳ Бот сейчас не может принять это") for t in said) == 1  # to the person, once
        assert sum(t.startswith("⛔ Бот не может записывать в базу данных") for t in said) == 1  # to the admin, once
        assert not s.processed() >= {u["update_id"] for u in tg.updates.delivered}  # the forward waits

        await disk.free(s.app.db)  # room again: the bot finds out by itself
        await tg.wait_for(lambda: any(SEND in m.button_texts for m in tg.messages(s.coordinator, from_bot=True)),
                          timeout=10, what="the forward to be handled")
        await s.settle()
        said = [m.text for m in tg.messages(s.coordinator, from_bot=True)]
        assert sum(t.startswith("✅ База данных снова записывается") for t in said) == 1
        assert len(reviews(s, topic)) == 1
        assert s._query("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL") == [(0,)]
        assert s._query("SELECT COUNT(*) FROM incidents WHERE state = 'review'") == [(1,)]


# --- 5. a database that cannot be used: one line at start; deleted under the bot: it stops ----------------------------


def unusable(tmp_path: Path) -> list[tuple[str, str]]:
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not a database, just some bytes " * 200)
    return [("/proc/no-such-folder/bot.sqlite3", "a missing folder that cannot be made"),
            ("/proc/bot.sqlite3", "a place where no file can be made"),
            ("/proc/self/status", "an existing file that cannot be written"),
            (str(tmp_path), "a folder"),
            (str(garbage), "not a database")]


@pytest.mark.parametrize("case", range(5))
def test_5_an_unusable_database_is_one_line_and_a_non_zero_exit(tmp_path, case):
    path, _why = unusable(tmp_path)[case]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), "DATABASE_PATH": path,
           "BOT_TOKEN": "123456:" + "A" * 30, "TELEGRAM_API_URL": "http://127.0.0.1:9"}
    result = subprocess.run([sys.executable, "-m", "bot"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=60)  # it used to hang
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: database {path}: "), result.stderr


async def test_5_a_database_file_deleted_under_the_bot_stops_it_and_its_content_is_saved(tmp_path):
    async with Scenario.start(tmp_path) as s:
        await s_bind(s)
        await s_intake(s, "Яма у дома 13 https://vk.com/wall-1_13")
        path = s.settings.database_path
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{path}{suffix}")
        code = await asyncio.wait_for(s.task, 10)  # it used to go on writing into the deleted file
        assert code == 1
        await s.app.close()
        s.task = None
        [rescued] = tmp_path.glob("bot.sqlite3.rescued-*")
        with contextlib.closing(sqlite3.connect(rescued)) as conn:
            assert conn.execute("SELECT COUNT(*) FROM incidents").fetchone() == (1,)
        assert not path.exists()  # the bot did not make a new, empty one in its place


async def test_5_a_database_file_replaced_under_the_bot_stops_it(tmp_path):
    async with Scenario.start(tmp_path) as s:
        await s_bind(s)
        path = s.settings.database_path
        other = tmp_path / "other.sqlite3"
        with contextlib.closing(sqlite3.connect(other)) as conn:
            conn.execute("CREATE TABLE x (y)")
        os.replace(other, path)  # a restore made while the bot runs (its -wal and -shm removed, as for a restore)
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{path}{suffix}")
        s.tg.send_text(s.coordinator, "Яма у дома 15 https://vk.com/wall-1_15")  # a write: noticed before it
        assert await asyncio.wait_for(s.task, 10) == 1
        await s.app.close()
        s.task = None
        with contextlib.closing(sqlite3.connect(path)) as conn:
            assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("x",)]  # not written into


async def test_5_python_m_bot_exits_non_zero_when_its_database_is_deleted(tmp_path):
    async with ProcessWorld.start(tmp_path) as w:
        await w.bot.start()
        await bind(w)
        os.unlink(w.bot.database)
        assert await w.bot.wait(timeout=20) == 1
        assert "STOPPED: the database file" in w.bot.log() and "was deleted" in w.bot.log()
