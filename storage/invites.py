"""Invite links: a token that, opened once before it expires, gives whoever opens it a role in a group.

``chat_id`` None with the admin role is the bot-wide owner's invite (the first administrator of a fresh
install). Using a token is one conditional UPDATE, so two people racing for one link cannot both win.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from storage.db import Database, from_db, to_db


@dataclass(frozen=True)
class Invite:
    token: str
    chat_id: int | None
    role: str
    department_id: int | None
    created_by: int | None
    created_at: datetime
    expires_at: datetime
    used_by: int | None = None
    used_at: datetime | None = None
    revoked_at: datetime | None = None

    def usable(self, now: datetime) -> bool:
        return self.used_at is None and self.revoked_at is None and now < self.expires_at


async def create(conn: aiosqlite.Connection, *, chat_id: int | None, role: str, department_id: int | None,
                 created_by: int | None, now: datetime, expires_at: datetime) -> str:
    token = secrets.token_urlsafe(12)  # 16 characters of [A-Za-z0-9_-]: fits a /start parameter
    await conn.execute(
        "INSERT INTO invites (token, chat_id, role, department_id, created_by, created_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (token, chat_id, role, department_id, created_by, to_db(now), to_db(expires_at)))
    return token


async def get(db: Database, token: str) -> Invite | None:
    row = await db.fetchone("SELECT * FROM invites WHERE token = ?", (token,))
    return None if row is None else _invite(row)


async def use(conn: aiosqlite.Connection, token: str, user_id: int, now: datetime) -> bool:
    """Marks the invite used by the user; False if it was used, revoked or expired meanwhile."""
    cursor = await conn.execute(
        "UPDATE invites SET used_by = ?, used_at = ? WHERE token = ? AND used_at IS NULL AND revoked_at IS NULL "
        "AND expires_at > ?", (user_id, to_db(now), token, to_db(now)))
    return cursor.rowcount == 1


async def revoke(conn: aiosqlite.Connection, token: str, now: datetime) -> bool:
    cursor = await conn.execute("UPDATE invites SET revoked_at = ? WHERE token = ? AND used_at IS NULL "
                                "AND revoked_at IS NULL", (to_db(now), token))
    return cursor.rowcount == 1


async def of_group(db: Database, chat_id: int, now: datetime, limit: int = 20) -> list[Invite]:
    """The group's invites still open, then the latest used ones (who joined), newest first."""
    rows = await db.fetchall(
        "SELECT * FROM invites WHERE chat_id = ? AND revoked_at IS NULL AND (used_at IS NOT NULL OR expires_at > ?) "
        "ORDER BY used_at IS NOT NULL, created_at DESC LIMIT ?", (chat_id, to_db(now), limit))
    return [_invite(r) for r in rows]


async def open_owner_invite(db: Database, now: datetime) -> Invite | None:
    """An unused bot-wide admin invite still valid (shown again at each start until someone uses it)."""
    row = await db.fetchone(
        "SELECT * FROM invites WHERE chat_id IS NULL AND role = 'admin' AND used_at IS NULL AND revoked_at IS NULL "
        "AND expires_at > ? ORDER BY created_at DESC LIMIT 1", (to_db(now),))
    return None if row is None else _invite(row)


def _invite(row: aiosqlite.Row) -> Invite:
    def moment(key: str) -> datetime | None:
        return from_db(row[key])

    created, expires = moment("created_at"), moment("expires_at")
    assert created is not None and expires is not None
    return Invite(row["token"], row["chat_id"], row["role"], row["department_id"], row["created_by"], created,
                  expires, row["used_by"], moment("used_at"), moment("revoked_at"))
