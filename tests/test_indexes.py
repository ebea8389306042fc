"""Every lookup on a hot path is served by an index: SQLite's own query plan for each statement the storage
functions run (captured as they run) reads no big table whole. A big table may only be walked through a
partial index, which holds just the rows that matter (pending calls, running timers, open incidents…)."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.clock import FakeClock
from bot.menus import StatusAsk, status_text
from bot.reminders import Reminders
from bot.service import Service
from bot.workflow import Actor, Route, decide, open_incident
from profiles.loader import load_profile
from storage import inbox, incidents, notices, org, outbox, reports, retention
from storage.db import Database
from tests.scenario import START
from tests.test_status_at_scale import COORDINATOR, G1, KUZNETSOVA, PETROV, build

BIG = ("incidents", "timers", "outbox", "incident_events", "inbox", "thread_messages", "status_departments",
       "direct_messages")
SCAN = re.compile(r"\bSCAN (\w+)(?: USING (?:COVERING )?INDEX (\w+))?")
ALIAS = re.compile(r"\b(?:FROM|JOIN)\s+(\w+)\s+(?:AS\s+)?(?!WHERE|JOIN|ON|LEFT|INNER|CROSS|GROUP|ORDER|LIMIT)(\w+)",
                   re.IGNORECASE)


async def plans(db: Database, statements: list[str]) -> dict[str, list[str]]:
    out = {}
    for sql in statements:
        if not re.match(r"\s*(WITH|SELECT|UPDATE|DELETE)\b", sql, re.IGNORECASE):
            continue
        out[sql] = [row[3] for row in await db.fetchall(f"EXPLAIN QUERY PLAN {sql}")]
    return out


async def test_no_hot_lookup_reads_a_big_table_whole(tmp_path):
    db = await Database.open(tmp_path / "bot.sqlite3")
    try:
        await build(db, 5, 60)
        profile = load_profile("izobilny")
        async with db.transaction() as conn:  # one more, as the bot writes it
            opened = open_incident(profile, 61, "vk", START, START)
            routed = decide(profile, opened.incident, Route((1,)), Actor(COORDINATOR, frozenset({"coordinator"})),
                            START)
            await incidents.insert(conn, opened.incident, chat_id=G1, profile="izobilny", source="vk", text="яма",
                                   link=None, origin={}, detected_at=START, created_by=COORDINATOR, now=START)
            await incidents.save(conn, profile, routed.incident, START, routed.stopped)  # type: ignore[union-attr]
            await outbox.enqueue(conn, G1, "sendMessage", {"chat_id": G1, "text": "x"}, START, purpose="card:61")
            await outbox.enqueue_latest(conn, G1, "editMessageText", {"chat_id": G1, "text": "y"}, START, "edit:61")
        await inbox.store(db, [(12345, G1, {"update_id": 12345})], START)
        partial = {r["name"] for r in await db.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql LIKE '% WHERE %'")}
        statements: list[str] = []
        for conn in (db.conn, db.slow):  # the hot path's and the long work's (reports, retention)
            await conn.set_trace_callback(statements.append)
        service = Service(db, FakeClock(START))
        # an update arrives, a message in a topic, a reply to a card
        await inbox.store(db, [(12346, G1, {"update_id": 12346})], START)
        await inbox.lanes_waiting(db, START)
        await inbox.next_in_lane(db, G1, START)
        await inbox.mark_handled(db, 12345, START)
        await org.standing(db, PETROV, G1, START)
        await incidents.find_by_thread(db, G1, 1005)
        await incidents.find_by_message(db, G1, 99999)  # not a card: then the thread's messages
        await incidents.load(db, 61)
        async with db.transaction() as conn:
            await incidents.load_many(conn, [1, 2, 61])
            await incidents.save(conn, profile, routed.incident, START, ())  # type: ignore[union-attr]
            await outbox.card_sent_to(conn, 61, G1)
            await outbox.noticed_since(conn, "dead:1", START)
        # the sender
        await outbox.heads_of_queues(db)
        await outbox.pending_count(db)
        await outbox.last_message_id(db, G1)
        await outbox.resolve(db, {"chat_id": G1, "message_thread_id": {"$thread": 61}, "message_id": {"$card": 61}})
        [call, *_rest] = await outbox.pending(db)
        await outbox.start_try(db, call.id, START, G1)
        await outbox.record_sent(db, call.id, START, call.purpose, {"message_id": 7, "chat": {"id": G1}})
        async with db.transaction() as conn:
            await outbox.mark_failed(conn, call.id, START, "a test")
        # the scheduler
        async with db.transaction() as conn:
            await notices.due_timers(conn, START)
        await notices.next_wake(db)
        # /status, the digest, the report
        for ask in (StatusAsk(COORDINATOR, G1, False), StatusAsk(PETROV, PETROV, True),
                    StatusAsk(KUZNETSOVA, KUZNETSOVA, True)):
            await status_text(service, ask, START)
        await Reminders(service).digest_text(profile, G1, START.date() - timedelta(days=1), START.date(), START)
        await reports.month_data(db, "izobilny", START - timedelta(days=30), START, ["answer", "part"])
        await reports.month_data(db, "izobilny", START - timedelta(days=30), START, ["answer"], chat_id=G1)
        # the hourly passes
        await retention.erase(db, START - timedelta(days=365), dry_run=True)
        await retention.prune_delivered(db, START)
        await inbox.prune(db, START)
        await outbox.prune_direct(db, START)
        await incidents.refresh_status(db, load_profile)
        await org.groups(db)
        for conn in (db.conn, db.slow):
            await conn.set_trace_callback(None)

        found = await plans(db, statements)
        assert len(found) > 30
        whole = []
        for sql, steps in found.items():
            tables = {alias: table for table, alias in ALIAS.findall(sql)}
            for step in steps:
                for name, index in SCAN.findall(step):
                    table = tables.get(name, name)
                    if table in BIG and index not in partial:
                        whole.append(f"{step}  <-  {sql[:200]}")
        assert not whole, "\n".join(whole)
        # and the lookups by a message use their own index, not a walk through the chat's incidents
        used = {sql: " ".join(steps) for sql, steps in found.items()}
        for needle, index in (("thread_id=1005", "incidents_by_thread"), ("card_message_id=99999", "incidents_by_card"),
                              ("ORDER BY status_due IS NULL", "incidents_status"),
                              ("ORDER BY due IS NULL, due, incident_id", "status_departments_order"),
                              ("ORDER BY status_waiting IS NULL", "incidents_waiting"),
                              ("handled_at IS NULL ORDER BY update_id LIMIT 1", "inbox_waiting")):
            matching = [p for sql, p in used.items() if needle in sql]
            assert matching and all(index in p for p in matching), (needle, matching)
    finally:
        await db.close()
