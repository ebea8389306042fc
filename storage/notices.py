"""Timers due to speak (reminders, overdue notices), digests sent: the SQL behind the scheduler."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from storage.db import Database, from_db, to_db


@dataclass(frozen=True)
class DueTimer:
    row_id: int
    incident_id: int
    timer_id: str
    department_id: int | None
    next_notice_at: datetime


async def due_timers(conn: aiosqlite.Connection, now: datetime, limit: int = 1000) -> list[DueTimer]:
    """Read inside the transaction that moves them on, so two ticks never send the same notice."""
    rows = await conn.execute_fetchall(
        """SELECT id, incident_id, timer_id, department_id, next_notice_at FROM timers
           WHERE stopped_at IS NULL AND paused_at IS NULL AND next_notice_at IS NOT NULL AND next_notice_at <= ?
           ORDER BY next_notice_at, id LIMIT ?""",
        (to_db(now), limit))
    return [DueTimer(r["id"], r["incident_id"], r["timer_id"], r["department_id"],
                     from_db(r["next_notice_at"])) for r in rows]  # type: ignore[arg-type]


async def set_next(conn: aiosqlite.Connection, moves: list[tuple[int, datetime | None]]) -> None:
    """Move timers (row id, next notice moment) on, in one statement."""
    await conn.executemany("UPDATE timers SET next_notice_at = ?, notices_sent = notices_sent + 1 WHERE id = ?",
                           [(to_db(next_at), row_id) for row_id, next_at in moves])


async def running(db: Database, rows: set[int]) -> set[int]:
    """Of these timers rows, those still running (not stopped, not paused)."""
    marks = ",".join("?" * len(rows))
    found = await db.fetchall(f"SELECT id FROM timers WHERE id IN ({marks}) AND stopped_at IS NULL "
                              "AND paused_at IS NULL", tuple(rows))
    return {int(r[0]) for r in found}


async def next_wake(db: Database) -> datetime | None:
    row = await db.fetchone("SELECT MIN(next_notice_at) AS t FROM timers WHERE stopped_at IS NULL "
                            "AND paused_at IS NULL AND next_notice_at IS NOT NULL")
    return from_db(row["t"]) if row and row["t"] else None


async def digest_sent(db: Database, chat_id: int, day: str) -> bool:
    return await db.fetchone("SELECT 1 FROM digests WHERE chat_id = ? AND day = ?", (chat_id, day)) is not None


async def mark_digest(conn: aiosqlite.Connection, chat_id: int, day: str, now: datetime) -> bool:
    """Record the day's digest as sent; False when it already was (another tick got there first)."""
    cur = await conn.execute("INSERT OR IGNORE INTO digests(chat_id, day, sent_at) VALUES (?,?,?)",
                             (chat_id, day, to_db(now)))
    return cur.rowcount == 1


async def last_digest_day(db: Database, chat_id: int, before: str) -> str | None:
    """The day (ISO date) of the group's latest digest before ``before``: the next one covers from there."""
    row = await db.fetchone("SELECT MAX(day) AS day FROM digests WHERE chat_id = ? AND day < ?", (chat_id, before))
    return row["day"] if row and row["day"] else None


@dataclass(frozen=True)
class Answer:
    incident_id: int
    department_id: int | None  # the lead's own timer has none: the lead department is departments[0]
    lead_id: int | None
    due_at: datetime
    stopped_at: datetime


async def created_between(db: Database, chat_id: int, start: datetime, end: datetime) -> list[int]:
    rows = await db.fetchall(
        "SELECT id FROM incidents WHERE chat_id = ? AND created_at >= ? AND created_at < ? ORDER BY id",
        (chat_id, to_db(start), to_db(end)))
    return [int(r["id"]) for r in rows]


async def created_at_between(db: Database, chat_id: int, start: datetime,
                             end: datetime) -> list[tuple[int, datetime]]:
    """Incidents taken in within [start, end), with the moment (the digest groups them by day)."""
    rows = await db.fetchall(
        "SELECT id, created_at FROM incidents WHERE chat_id = ? AND created_at >= ? AND created_at < ? ORDER BY id",
        (chat_id, to_db(start), to_db(end)))
    return [(int(r["id"]), from_db(r["created_at"])) for r in rows]  # type: ignore[misc]


async def closed_between(db: Database, chat_id: int, start: datetime,
                         end: datetime) -> list[tuple[int, datetime, str | None]]:
    """Incidents closed within [start, end): id, when, the outcome."""
    rows = await db.fetchall(
        "SELECT id, closed_at, outcome FROM incidents WHERE chat_id = ? AND closed_at >= ? AND closed_at < ? "
        "ORDER BY closed_at, id", (chat_id, to_db(start), to_db(end)))
    return [(int(r["id"]), from_db(r["closed_at"]), r["outcome"]) for r in rows]  # type: ignore[misc]


async def answers_between(db: Database, chat_id: int, start: datetime, end: datetime) -> list[Answer]:
    """Deadlines a draft met (or missed) in [start, end): the digest's "answered on time / late"."""
    rows = await db.fetchall(
        """SELECT t.incident_id, t.department_id, t.due_at, t.stopped_at, i.departments
           FROM timers t JOIN incidents i ON i.id = t.incident_id
           WHERE i.chat_id = ? AND t.stopped_at >= ? AND t.stopped_at < ? AND t.stop_event = 'draft_submitted'
           ORDER BY t.stopped_at, t.id""",
        (chat_id, to_db(start), to_db(end)))
    out = []
    for r in rows:
        deps = json.loads(r["departments"])
        out.append(Answer(r["incident_id"], r["department_id"], deps[0] if deps else None,
                          from_db(r["due_at"]), from_db(r["stopped_at"])))  # type: ignore[arg-type]
    return out
