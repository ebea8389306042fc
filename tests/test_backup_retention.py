"""`python -m bot backup` (a consistent copy while the bot writes) and personal data retention: the
citizens' texts of incidents closed long ago are erased, every figure stays."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.backup import apply_retention, start_retention, stop_retention
from bot.cli import main
from bot.clock import FakeClock
from storage.db import Database, to_db
from storage.retention import erase, erase_closed
from tests.scenario import START, Scenario
from tests.test_help_status import polling
from tests.test_scenarios import bind

DAY = timedelta(days=1)
ERASED_COLUMNS = {"text", "link", "origin", "draft", "final_text", "published_link"}
GROUP = -1_000_000_000_001


def create_db(path: Path) -> None:
    async def go() -> None:
        db = await Database.open(path)
        await db.close()

    asyncio.run(go())


def rows(path: Path, sql: str, *params: object) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql, params).fetchall()


# --- backup -------------------------------------------------------------------------------------


def _writer(path: Path, stop: threading.Event, batches: list[int]) -> None:
    """Commits batches of ten rows, one transaction each, until told to stop; the log is never checkpointed."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=10)
    conn.execute("PRAGMA wal_autocheckpoint=0")
    n = 0
    try:
        while not stop.is_set() or n < 30:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO inbox(update_id, payload, received_at) VALUES (?, '{}', 'x')",
                             [(n * 10 + i + 1,) for i in range(10)])
            conn.execute("COMMIT")
            n += 1
            batches.append(n)
            stop.wait(0.001)  # a moment between transactions, or nobody else ever gets the write lock
    finally:
        conn.close()


def test_backup_is_one_committed_moment_while_a_writer_is_busy(tmp_path):
    source = tmp_path / "bot.sqlite3"
    create_db(source)
    stop, batches = threading.Event(), []
    writer = threading.Thread(target=_writer, args=(source, stop, batches))
    writer.start()
    try:
        while len(batches) < 20:  # the writer is well under way
            threading.Event().wait(0.005)
        # and someone else is in the middle of a transaction that will never be committed
        pending = sqlite3.connect(source, isolation_level=None, timeout=10)
        copies = []
        for i in range(3):
            assert main(["backup", str(tmp_path / f"copy{i}.sqlite3"), "--database", str(source)]) == 0
            copies.append(tmp_path / f"copy{i}.sqlite3")
        pending.execute("BEGIN IMMEDIATE")
        pending.execute("INSERT INTO people(user_id, name) VALUES (1, 'не сохранён')")
        try:
            assert main(["backup", str(tmp_path / "copy3.sqlite3"), "--database", str(source)]) == 0
        finally:
            pending.execute("ROLLBACK")
            pending.close()
        copies.append(tmp_path / "copy3.sqlite3")
        assert (tmp_path / "bot.sqlite3-wal").stat().st_size > 0  # the rows live in the log, not yet in the file
    finally:
        stop.set()
        writer.join()
    for copy in copies:
        ids = [r[0] for r in rows(copy, "SELECT update_id FROM inbox ORDER BY update_id")]
        assert ids and len(ids) % 10 == 0 and ids == list(range(1, len(ids) + 1))  # whole transactions only
        assert rows(copy, "PRAGMA quick_check") == [("ok",)]
        assert rows(copy, "PRAGMA journal_mode") == [("delete",)]  # one self-contained file
        assert rows(copy, "PRAGMA user_version") == rows(source, "PRAGMA user_version")
    assert rows(copies[-1], "SELECT * FROM people") == []
    final = tmp_path / "final.sqlite3"
    assert main(["backup", str(final), "--database", str(source)]) == 0
    query = "SELECT * FROM inbox ORDER BY update_id"
    assert rows(final, query) == rows(source, query) and len(rows(final, query)) == 10 * len(batches)


def test_backup_command_refuses_to_overwrite_and_says_why_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "data" / "bot.sqlite3"))
    monkeypatch.delenv("BOT_TOKEN", raising=False)  # not needed
    assert main(["backup", "copy.sqlite3"]) == 2  # no database yet
    assert capsys.readouterr().err.strip().count("\n") == 0
    create_db(tmp_path / "data" / "bot.sqlite3")

    assert main(["backup", "backups/copy.sqlite3"]) == 0
    out = capsys.readouterr().out
    size = (tmp_path / "backups" / "copy.sqlite3").stat().st_size
    assert "backups/copy.sqlite3" in out and f"{size} bytes" in out

    (tmp_path / "backups" / "copy.sqlite3").write_bytes(b"keep me")
    assert main(["backup", "backups/copy.sqlite3"]) == 2
    err = capsys.readouterr().err
    assert "--force" in err and err.strip().count("\n") == 0
    assert (tmp_path / "backups" / "copy.sqlite3").read_bytes() == b"keep me"
    assert main(["backup", "backups/copy.sqlite3", "--force"]) == 0
    assert rows(tmp_path / "backups" / "copy.sqlite3", "PRAGMA quick_check") == [("ok",)]

    assert main(["backup", "backups"]) == 2  # a folder
    assert main(["backup", "data/bot.sqlite3", "--force"]) == 2  # the database itself
    (tmp_path / "junk").write_text("not a database")
    assert main(["backup", "x.sqlite3", "--database", "junk"]) == 2
    assert not (tmp_path / "x.sqlite3").exists()
    assert [p.name for p in (tmp_path / "backups").iterdir()] == ["copy.sqlite3"]  # no temporary files left
    monkeypatch.setenv("RETENTION_DAYS", "many")  # a setting backup does not use does not stop it
    assert main(["backup", "y.sqlite3"]) == 0


# --- retention ----------------------------------------------------------------------------------


def seed(path: Path, now: datetime) -> None:
    """Incidents: 1 closed 400 days ago, 2 closed 10 days ago, 3 open since 500 days; drafts, awaited replies
    and outbox rows old and new."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as c:
        c.execute("PRAGMA secure_delete=ON")
        c.execute("BEGIN")
        c.execute("INSERT OR IGNORE INTO groups(chat_id, title, profile, is_forum, bound_at) VALUES (?,?,?,?,?)",
                  (GROUP, "Группа", "izobilny", 1, to_db(now - 1000 * DAY)))
        for n, state, created, closed in ((1, "closed", now - 401 * DAY, now - 400 * DAY),
                                          (2, "closed", now - 11 * DAY, now - 10 * DAY),
                                          (3, "assigned", now - 500 * DAY, None)):
            c.execute(
                """INSERT INTO incidents(id, chat_id, profile, source, track, state, departments, outcome,
                       outcome_reason, event_times, text, link, origin, draft, final_text, published_link,
                       thread_id, card_message_id, created_by, detected_at, created_at, closed_at)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                (n, GROUP, "izobilny", "vk", "standard", state, "[1, 2]", "published" if closed else None,
                 None, json.dumps({"routed": to_db(created)}), f"Яма у дома 7, пишет citizen-secret-{n}",
                 f"https://vk.com/wall-1_{n}", json.dumps({"kind": "user", "title": f"citizen-origin-{n}"}),
                 json.dumps({"text": f"draft-secret-{n}", "messages": [5, 6]}), f"final-secret-{n}",
                 f"https://vk.com/wall-1_{n}?reply=9", 10 + n, 20 + n, 100001, to_db(created), to_db(created),
                 to_db(closed)))
            c.execute("""INSERT INTO timers(incident_id, timer_id, clause, role, started_at, due_at, stopped_at,
                                            stop_event) VALUES (?,?,?,?,?,?,?,?)""",
                      (n, "answer", "п. 6.2", "executor", to_db(created), to_db(created + timedelta(hours=3)),
                       to_db(closed), "draft_submitted" if closed else None))
            for event in ("detected", "routed", "draft_submitted"):
                c.execute("INSERT INTO incident_events(incident_id, event, at, user_id) VALUES (?,?,?,?)",
                          (n, event, to_db(created), 100001))
        for user, age in ((100001, 400), (100002, 1)):
            c.execute("INSERT INTO intake(user_id, data, updated_at) VALUES (?,?,?)",
                      (user, json.dumps({"text": f"intake-secret-{age}"}), to_db(now - age * DAY)))
            c.execute("INSERT INTO awaited(user_id, chat_id, data, created_at) VALUES (?,?,?,?)",
                      (user, GROUP, json.dumps({"kind": "rw", "incident": 1}), to_db(now - age * DAY)))
        for text, age, sent in (("outbox-secret-old", 400, True), ("outbox-pending-old", 400, False),
                                ("outbox-secret-new", 1, True)):
            at = to_db(now - age * DAY)
            c.execute("""INSERT INTO outbox(chat_id, method, payload, not_before, created_at, sent_at)
                         VALUES (?,?,?,?,?,?)""",
                      (GROUP, "sendMessage", json.dumps({"chat_id": GROUP, "text": text}), at, at,
                       at if sent else None))
        c.execute("COMMIT")


def snapshot(path: Path) -> dict[str, list[tuple]]:
    return {table: rows(path, f"SELECT * FROM {table} ORDER BY 1, 2")
            for table in ("incidents", "timers", "incident_events", "intake", "awaited", "outbox", "groups")}


def file_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


async def test_retention_erases_only_old_closed_incidents_and_keeps_every_figure(tmp_path):
    path = tmp_path / "bot.sqlite3"
    now = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    db = await Database.open(path)
    seed(path, now)
    before = snapshot(path)
    columns = [r[1] for r in rows(path, "PRAGMA table_info(incidents)")]

    dry = await erase(db, now - 365 * DAY, dry_run=True)
    assert (dry.incidents, dry.intakes, dry.awaited, dry.outbox) == (1, 1, 1, 1)
    assert snapshot(path) == before  # counted, nothing changed

    await db.conn.execute("PRAGMA secure_delete=OFF")  # as some SQLite builds have it
    assert await erase_closed(db, now - 365 * DAY) == 1
    assert (await db.fetchone("PRAGMA secure_delete"))[0] == 0  # the connection is left as it was
    after = snapshot(path)
    old, recent, still_open = (dict(zip(columns, r, strict=True)) for r in after["incidents"])
    assert (old["text"], old["link"], old["origin"], old["draft"], old["final_text"], old["published_link"]) == (
        "", None, "{}", None, None, None)
    for then, now_ in zip(before["incidents"], after["incidents"], strict=True):  # every other column as it was
        kept = [c for c in columns if c not in ERASED_COLUMNS]
        assert [then[columns.index(c)] for c in kept] == [now_[columns.index(c)] for c in kept]
    assert [recent[c] for c in ERASED_COLUMNS] == [before["incidents"][1][columns.index(c)] for c in ERASED_COLUMNS]
    assert "citizen-secret-3" in still_open["text"]  # open for 500 days: still in work, nothing erased
    for table in ("timers", "incident_events", "groups"):
        assert after[table] == before[table]
    assert [r[0] for r in after["intake"]] == [100002] and [r[0] for r in after["awaited"]] == [100002]
    assert [json.loads(r[3])["text"] for r in after["outbox"]] == ["outbox-pending-old", "outbox-secret-new"]

    # gone from the file itself, not only from the rows
    await db.close()
    raw = file_bytes(path)
    for secret in ("citizen-secret-1", "citizen-origin-1", "draft-secret-1", "final-secret-1", "wall-1_1",
                   "intake-secret-400", "outbox-secret-old"):
        assert secret.encode() not in raw, secret
    assert b"citizen-secret-2" in raw and b"outbox-secret-new" in raw  # the check can see what is there

    db = await Database.open(path)
    try:
        assert await erase_closed(db, now - 365 * DAY) == 0  # idempotent
        assert snapshot(path) == after
        assert await erase_closed(db, now - 5 * DAY) == 1  # a shorter period reaches the second one
    finally:
        await db.close()


def test_retention_command(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bot.sqlite3"
    monkeypatch.setenv("DATABASE_PATH", str(path))
    monkeypatch.delenv("RETENTION_DAYS", raising=False)
    assert main(["retention"]) == 2  # no database
    create_db(path)
    seed(path, datetime.now(UTC))
    before = snapshot(path)
    assert main(["retention", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would erase" in out and "1 closed incidents" in out and "(365 days)" in out
    assert snapshot(path) == before
    assert main(["retention", "--days", "5", "--dry-run"]) == 0
    assert "2 closed incidents" in capsys.readouterr().out
    assert main(["retention"]) == 0
    assert "erased" in capsys.readouterr().out
    assert rows(path, "SELECT id FROM incidents WHERE text = '' ORDER BY id") == [(1,)]
    assert main(["retention", "--days", "-1"]) == 2
    monkeypatch.setenv("RETENTION_DAYS", "0")
    assert main(["retention"]) == 0
    assert "off" in capsys.readouterr().out
    assert rows(path, "SELECT id FROM incidents WHERE text = '' ORDER BY id") == [(1,)]
    monkeypatch.setenv("RETENTION_DAYS", "-3")
    assert main(["retention"]) == 2
    assert "RETENTION_DAYS" in capsys.readouterr().err


async def test_retention_runs_at_start_then_every_period_while_running(tmp_path):
    path = tmp_path / "bot.sqlite3"
    clock = FakeClock(datetime(2026, 11, 23, 7, 0, tzinfo=UTC))
    db = await Database.open(path)
    seed(path, clock.now())
    try:
        assert await apply_retention(db, clock, 0) is None  # off
        assert rows(path, "SELECT COUNT(*) FROM incidents WHERE text = ''") == [(0,)]
        task = await start_retention(db, clock, 365, every=timedelta(milliseconds=20))
        for _ in range(200):  # the first pass runs at once, in the background
            if rows(path, "SELECT id FROM incidents WHERE text = ''") == [(1,)]:
                break
            await asyncio.sleep(0.01)
        assert rows(path, "SELECT id FROM incidents WHERE text = ''") == [(1,)]
        clock.advance(360 * DAY)  # the second incident's year is over
        for _ in range(200):
            if rows(path, "SELECT COUNT(*) FROM incidents WHERE text = ''") == [(2,)]:
                break
            await asyncio.sleep(0.01)
        assert rows(path, "SELECT id FROM incidents WHERE text = '' ORDER BY id") == [(1,), (2,)]
        await stop_retention(task)
        assert task.cancelled()
        off = await start_retention(db, clock, 0, every=timedelta(milliseconds=20))  # off: delivered calls only
        await asyncio.sleep(0.05)
        await stop_retention(off)
        assert rows(path, "SELECT COUNT(*) FROM incidents WHERE text = ''") == [(2,)]
    finally:
        await db.close()


async def restarted(s: Scenario) -> None:
    """Restart the bot and wait until it polls again (what it does at start is done by then)."""
    await s.restart()
    await polling(s)


async def test_the_running_bot_erases_at_start_unless_retention_is_off(tmp_path):
    async with Scenario.start(tmp_path) as s:
        await bind(s)
        path = s.settings.database_path
        seed(path, START)
        await restarted(s)
        assert rows(path, "SELECT id FROM incidents WHERE text = ''") == [(1,)]

        with contextlib.closing(sqlite3.connect(path)) as c, c:
            c.execute("UPDATE incidents SET closed_at = ? WHERE id = 2", (to_db(START - 366 * DAY),))
        s.settings = s.settings.model_copy(update={"retention_days": 0})
        await restarted(s)
        assert rows(path, "SELECT id FROM incidents WHERE text = ''") == [(1,)]  # kept: retention is off
        s.tg.assert_no_violations()


@pytest.mark.parametrize("days", [-1, 36501])
def test_retention_days_setting_is_checked(days, monkeypatch):
    from bot.settings import SettingsError, load_settings

    monkeypatch.setenv("BOT_TOKEN", "123456:" + "A" * 30)
    monkeypatch.setenv("RETENTION_DAYS", str(days))
    with pytest.raises(SettingsError, match="RETENTION_DAYS"):
        load_settings()
