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

import pytest

from tests import disk
from tests.emulator import Message, Topic
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
        first = await tg.wait_for_message(coordinator, timeout=20)
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
        reply = await tg.wait_for_message(coordinator, timeout=20)
        assert "/status" in reply.text
        await asyncio.sleep(1.0)
        assert len(tg.messages(coordinator, from_bot=True)) == 1


# --- 3. what Telegram did is not done again -------------------------------------------------------------------


async def intake_until_the_card(w: ProcessWorld, text: str) -> None:
    """The coordinator forwards, picks the department; the caller arms a fault and presses Send."""
    p = await panel(w, text)
    await press(w, p, ZHKH)
    return p


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
        assert "ServerDisconnected" not in w.bot.log()
        await w.bot.start()
        await tg.wait_for(lambda: tg.call_count("copyMessages", ok_only=True) == 1, timeout=20, what="the copy")
        await asyncio.sleep(0.5)
        assert len(tg.topics(w.group)) == 1
        assert len(cards(w)) == 1
        [card_id] = w.bot.query("SELECT card_message_id FROM incidents WHERE id = 1")[0]
        assert cards(w)[0].message_id == card_id


async def test_3_kill_9_after_telegram_made_the_card_leaves_a_marked_copy_not_a_live_one(tmp_path):
    """What remains possible: Telegram made the card and the bot died before it heard. The card is sent again;
    the copy cannot pass for the live one: the thread says which is live, and only the live one is updated."""
    async with ProcessWorld.start(tmp_path) as w:
        tg = w.tg
        await w.bot.start()
        await bind(w)
        p = await intake_until_the_card(w, "Яма у дома 6 https://vk.com/wall-1_6")
        lost = tg.faults.hang(method="sendMessage", chat_id=w.group.id, after_processing=True)  # done, never answered
        tg.press_button(w.people["coordinator"], tg.message(p.chat.id, p.message_id), SEND)
        await tg.wait_for(lambda: lost.hits == 1, timeout=15, what="the card made, its answer hanging")
        await w.bot.kill()
        tg.faults.clear()
        await w.bot.start()
        await tg.wait_for(lambda: tg.call_count("copyMessages", ok_only=True) == 1, timeout=20, what="the copy")
        [topic] = tg.topics(w.group)
        orphan, live = cards(w)
        [card_id] = w.bot.query("SELECT card_message_id FROM incidents WHERE id = 1")[0]
        assert live.message_id == card_id
        await tg.wait_for(lambda: any((m.text or "").startswith("♻️ Карточка №1 отправлена повторно")
                                      for m in tg.messages(w.group, topic.thread_id, from_bot=True)),
                          timeout=10, what="the note saying which card is live")
        # the head answers: the live card changes, the copy does not
        tg.send_text(w.people["zhkh"], "Яму у дома 6 заделаем завтра.", chat=w.group, thread=topic.thread_id)
        await tg.wait_for(lambda: "на согласовании" in (tg.message(w.group.id, live.message_id).text or ""), timeout=20,
                          what="the live card to show the review")
        assert tg.message(w.group.id, orphan.message_id).text == orphan.text


async def test_3_kill_9_before_telegram_made_the_card_sends_it_once_and_says_nothing(tmp_path):
    async with ProcessWorld.start(tmp_path) as w:
        tg = w.tg
        await w.bot.start()
        await bind(w)
        p = await intake_until_the_card(w, "Яма у дома 7 https://vk.com/wall-1_7")
        stuck = tg.faults.hang(method="sendMessage", chat_id=w.group.id)  # never carried out
        tg.press_button(w.people["coordinator"], tg.message(p.chat.id, p.message_id), SEND)
        await tg.wait_for(lambda: stuck.hits == 1, timeout=15, what="the card in flight")
        await w.bot.kill()
        tg.faults.clear()
        await w.bot.start()
        await tg.wait_for(lambda: tg.call_count("copyMessages", ok_only=True) == 1, timeout=20, what="the copy")
        [topic] = tg.topics(w.group)
        assert len(cards(w)) == 1
        assert not any("♻️" in (m.text or "") for m in tg.messages(w.group, topic.thread_id, from_bot=True))
