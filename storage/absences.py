"""Absences: a person away until a moment, and who acts for him in a group meanwhile.

An absence is over when ``until`` has passed; nothing has to wake up to end it.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import aiosqlite

from storage.db import Database, from_db, to_db


class Absence(NamedTuple):
    user_id: int
    chat_id: int
    substitute_id: int
    until: datetime


async def set_absence(conn: aiosqlite.Connection, chat_id: int, user_id: int, substitute_id: int,
                      until: datetime, set_by: int, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO absences (user_id, chat_id, substitute_id, until, set_by, created_at) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (user_id, chat_id) DO UPDATE SET substitute_id = excluded.substitute_id, "
        "until = excluded.until, set_by = excluded.set_by, created_at = excluded.created_at",
        (user_id, chat_id, substitute_id, to_db(until), set_by, to_db(now)))


async def clear(conn: aiosqlite.Connection, chat_id: int, user_id: int) -> bool:
    cursor = await conn.execute("DELETE FROM absences WHERE chat_id = ? AND user_id = ?", (chat_id, user_id))
    return cursor.rowcount > 0


async def clear_person(conn: aiosqlite.Connection, chat_id: int, user_id: int) -> None:
    """A person removed from the group is neither away there nor anyone's substitute."""
    await conn.execute("DELETE FROM absences WHERE chat_id = ? AND (user_id = ? OR substitute_id = ?)",
                       (chat_id, user_id, user_id))


async def active(db: Database, chat_id: int, now: datetime) -> dict[int, Absence]:
    """The group's people away now, by user id."""
    rows = await db.fetchall("SELECT * FROM absences WHERE chat_id = ? AND until > ?", (chat_id, to_db(now)))
    return {r["user_id"]: _absence(r) for r in rows}


def _absence(row: aiosqlite.Row) -> Absence:
    until = from_db(row["until"])
    assert until is not None
    return Absence(row["user_id"], row["chat_id"], row["substitute_id"], until)
