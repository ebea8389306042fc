"""The inbox (bot/inbox.py): updates are stored before Telegram forgets them, handled once, chat by chat."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta

from tests.scenario import Scenario


async def test_an_update_the_bot_cannot_store_is_not_confirmed_to_telegram(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await tg.wait_for(lambda: tg.updates.waiting_polls > 0, what="the bot to poll")
        busy = sqlite3.connect(s.settings.database_path, isolation_level=None, timeout=5, check_same_thread=False)
        # another writer holds the database (taken from a thread: waiting in the loop would stop the bot's
        # transaction in progress from ever finishing, and both would wait)
        await asyncio.to_thread(busy.execute, "BEGIN IMMEDIATE")
        try:
            tg.send_text(s.coordinator, "/start")
            await tg.wait_for(lambda: tg.updates.delivered, what="the update fetched")
            await asyncio.sleep(1.0)
            assert [u["update_id"] for u in tg.updates.pending] == [tg.updates.delivered[-1]["update_id"]]
        finally:
            busy.execute("ROLLBACK")
            busy.close()
        await s.settle()
        assert not tg.updates.pending
        assert s._query("SELECT handled_at IS NOT NULL FROM inbox") == [(1,)]
        assert len(tg.messages(s.coordinator, from_bot=True)) == 1


async def test_a_handler_that_fails_is_tried_again_after_a_pause(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        tg.faults.error(400, "Bad Request: chat not found", method="sendMessage", chat_id=s.coordinator.id)
        tg.send_text(s.coordinator, "/start")  # its handler answers straight away: the answer fails once
        await tg.settle(quiet=0.2)
        assert tg.messages(s.coordinator, from_bot=True) == []
        [(attempts, handled)] = s._query("SELECT attempts, handled_at FROM inbox")
        assert attempts == 1 and handled is None
        s.clock.advance(timedelta(seconds=2))
        s.app.inbox.wake()
        await s.settle()
        [reply] = tg.messages(s.coordinator, from_bot=True)
        assert "/status" in reply.text


async def test_a_handler_that_keeps_failing_is_given_up_and_the_chat_goes_on(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        tg.faults.error(400, "Bad Request: chat not found", method="sendMessage", chat_id=s.coordinator.id, times=3)
        tg.send_text(s.coordinator, "/start")
        tg.send_text(s.coordinator, "/start")
        for tries in (1, 2, 3):
            await tg.wait_for(lambda t=tries: s._query("SELECT MIN(update_id) FROM inbox WHERE attempts = ?", t)
                              != [(None,)], what=f"try {tries}")
            s.clock.advance(timedelta(seconds=10))
            s.app.inbox.wake()
        await s.settle()
        rows = s._query("SELECT attempts, handled_at IS NOT NULL, last_error IS NOT NULL FROM inbox ORDER BY update_id")
        assert rows == [(3, 1, 1), (0, 1, 0)]  # the first given up after 3 tries; the second handled
        assert len(tg.messages(s.coordinator, from_bot=True)) == 1


async def test_a_slow_chat_does_not_hold_the_others(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        slow = tg.faults.hang(method="sendMessage", chat_id=s.coordinator.id, seconds=3)
        tg.send_text(s.coordinator, "/start")
        await tg.wait_for(lambda: slow.hits == 1, what="the slow reply")
        tg.send_text(s.zhkh, "/start")
        reply = await tg.wait_for_message(s.zhkh, timeout=2)  # while the coordinator's reply still hangs
        assert "/status" in reply.text
        await asyncio.sleep(3)
        await s.settle()
        assert len(tg.messages(s.coordinator, from_bot=True)) == 1


async def test_an_update_is_stored_as_telegram_sent_it(tmp_path):
    """The inbox keeps the JSON of getUpdates itself, not aiogram's object dumped again (cheaper, and nothing of
    Telegram's is lost or reshaped), and the update is handled from it."""
    import json

    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        tg.send_text(s.coordinator, "Яма <script>alert(1)</script> https://vk.com/wall-1_2")
        await s.settle()
        [update] = tg.updates.delivered[-1:]
        [(payload,)] = s._query("SELECT payload FROM inbox WHERE update_id = ?", update["update_id"])
        assert json.loads(payload) == update
        assert tg.messages(s.coordinator, from_bot=True)  # handled: the intake panel
