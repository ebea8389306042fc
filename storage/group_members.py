"""Who of a group's people is in its Telegram chat, and the one invite link the bot made for each who is not.

A role in a group is not a seat in its Telegram chat: without the seat a person sees no topic. The bot learns
who is there from Telegram (joins and leaves, or asking when nobody has said) and keeps it here, for the
group's people only (those with a role or a link of their own). No row: not known yet.

``invite_link`` is the person's own link (one member, made by the bot), kept while it may still be used:
cleared when he joins, when it is replaced, or when his role is withdrawn (the caller revokes it in Telegram).
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import aiosqlite

from storage.db import Database, from_db, to_db


class Seat(NamedTuple):
    user_id: int
    present: bool
    invite_link: str | None = None
    link_made_at: datetime | None = None
    invited_by: int | None = None  # the administrator to tell when he joins


async def seat(db: Database, chat_id: int, user_id: int) -> Seat | None:
    row = await db.fetchone("SELECT * FROM group_members WHERE chat_id = ? AND user_id = ?", (chat_id, user_id))
    return None if row is None else _seat(row)


async def seats(db: Database, chat_id: int) -> dict[int, Seat]:
    """The group's known seats by user id."""
    rows = await db.fetchall("SELECT * FROM group_members WHERE chat_id = ?", (chat_id,))
    return {r["user_id"]: _seat(r) for r in rows}


async def owner_of_link(db: Database, invite_link: str) -> tuple[int, int] | None:
    """(chat_id, user_id) of the person an open link was made for."""
    row = await db.fetchone("SELECT chat_id, user_id FROM group_members WHERE invite_link = ?", (invite_link,))
    return None if row is None else (row["chat_id"], row["user_id"])


async def set_present(conn: aiosqlite.Connection, chat_id: int, user_id: int, present: bool,
                      now: datetime) -> str | None:
    """He is (or is not) in the chat now. Being there ends his link: returned to be revoked."""
    row = await (await conn.execute("SELECT invite_link FROM group_members WHERE chat_id = ? AND user_id = ?",
                                    (chat_id, user_id))).fetchone()
    link = row["invite_link"] if row is not None and present else None
    await conn.execute(
        "INSERT INTO group_members (chat_id, user_id, present, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (chat_id, user_id) DO UPDATE SET present = excluded.present, updated_at = excluded.updated_at, "
        "invite_link = CASE WHEN excluded.present THEN NULL ELSE invite_link END",
        (chat_id, user_id, int(present), to_db(now)))
    return link


async def set_link(conn: aiosqlite.Connection, chat_id: int, user_id: int, invite_link: str, invited_by: int | None,
                   now: datetime) -> str | None:
    """His new link (he is not in the chat); returns the one it replaces, to be revoked."""
    row = await (await conn.execute("SELECT invite_link FROM group_members WHERE chat_id = ? AND user_id = ?",
                                    (chat_id, user_id))).fetchone()
    await conn.execute(
        "INSERT INTO group_members (chat_id, user_id, present, invite_link, link_made_at, invited_by, updated_at) "
        "VALUES (?, ?, 0, ?, ?, ?, ?) ON CONFLICT (chat_id, user_id) DO UPDATE SET present = 0, "
        "invite_link = excluded.invite_link, link_made_at = excluded.link_made_at, "
        "invited_by = COALESCE(excluded.invited_by, invited_by), updated_at = excluded.updated_at",
        (chat_id, user_id, invite_link, to_db(now), invited_by, to_db(now)))
    return row["invite_link"] if row is not None else None


async def clear_link(conn: aiosqlite.Connection, chat_id: int, user_id: int) -> None:
    await conn.execute("UPDATE group_members SET invite_link = NULL WHERE chat_id = ? AND user_id = ?",
                       (chat_id, user_id))


async def forget(conn: aiosqlite.Connection, chat_id: int, user_id: int) -> str | None:
    """He is no longer one of the group's people: his row goes; returns his open link, to be revoked."""
    row = await (await conn.execute("SELECT invite_link FROM group_members WHERE chat_id = ? AND user_id = ?",
                                    (chat_id, user_id))).fetchone()
    await conn.execute("DELETE FROM group_members WHERE chat_id = ? AND user_id = ?", (chat_id, user_id))
    return row["invite_link"] if row is not None else None


def _seat(row: aiosqlite.Row) -> Seat:
    return Seat(row["user_id"], bool(row["present"]), row["invite_link"], from_db(row["link_made_at"]),
                row["invited_by"])
