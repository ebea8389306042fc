"""The inbox: every update Telegram gives the bot, stored before its offset is confirmed, handled from here.

An update's id is its key: Telegram may give the same update again (after a crash, before the offset was
confirmed) and the second copy is ignored. ``handled_at`` is set in the same transaction as the effects of
the use case that handled it (storage/db.py, ``HANDLING``), or right after a handler that wrote nothing.
Updates of one ``lane`` (a chat) are handled in order; lanes run side by side.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Database, to_db


@dataclass(frozen=True)
class Incoming:
    update_id: int
    lane: int
    stored: str  # the update as stored (JSON); read only when the handler has no fresher copy (bot/inbox.py)
    attempts: int

    def payload(self) -> dict[str, Any]:
        return json.loads(self.stored)


async def store(db: Database, updates: list[tuple[int, int, dict[str, Any]]], now: datetime) -> int:
    """(update_id, lane, payload) in one statement (all or none: getUpdates gives at most 100); an update already
    stored is left as it is. Returns how many were new."""
    if not updates:
        return 0
    at = to_db(now)
    return await db.write(
        "INSERT OR IGNORE INTO inbox(update_id, lane, payload, received_at, message_id) VALUES "
        + ", ".join(["(?, ?, ?, ?, ?)"] * len(updates)),
        tuple(v for update_id, lane, payload in updates
              for v in (update_id, lane, json.dumps(payload, ensure_ascii=False), at, message_of(payload))))


def message_of(update: dict[str, Any]) -> int | None:
    """The number of the message an update is about, in its chat (storage.outbox.last_message_id)."""
    message = update.get("message") or update.get("edited_message") or (update.get("callback_query") or {}).get(
        "message")  # a press: the message its button is on
    number = message.get("message_id") if isinstance(message, dict) else None
    return number if isinstance(number, int) else None


async def lanes_waiting(db: Database, now: datetime) -> list[Incoming]:
    """The oldest unhandled update of each lane, where it may be handled now."""
    rows = await db.fetchall(
        """SELECT i.* FROM inbox i
           JOIN (SELECT lane, MIN(update_id) AS id FROM inbox WHERE handled_at IS NULL GROUP BY lane) h
             ON h.id = i.update_id
           WHERE i.not_before IS NULL OR i.not_before <= ? ORDER BY i.update_id""", (to_db(now),))
    return [_incoming(r) for r in rows]


async def next_in_lane(db: Database, lane: int, now: datetime) -> Incoming | None:
    """The lane's oldest unhandled update, if it may be handled now (a failed one waits for its retry)."""
    # INDEXED BY: left to itself SQLite took inbox_by_lane, walking every update the lane ever had (67 µs at 700)
    row = await db.fetchone("SELECT * FROM inbox INDEXED BY inbox_waiting WHERE lane = ? AND handled_at IS NULL "
                            "ORDER BY update_id LIMIT 1", (lane,))
    if row is None or (row["not_before"] is not None and row["not_before"] > to_db(now)):
        return None
    return _incoming(row)


def _incoming(row: Any) -> Incoming:
    return Incoming(row["update_id"], row["lane"], row["payload"], row["attempts"])


async def mark_handled(db: Database, update_id: int, now: datetime) -> None:
    await db.write("UPDATE inbox SET handled_at = ? WHERE update_id = ? AND handled_at IS NULL",
                   (to_db(now), update_id))


async def failed(db: Database, update_id: int, now: datetime, error: str, retry_at: datetime | None) -> None:
    """A handler raised: try again at ``retry_at``, or (None) give up: the update counts as handled. An update
    whose use case committed before the error stays handled."""
    await db.write(
        "UPDATE inbox SET attempts = attempts + 1, last_error = ?, not_before = ?, handled_at = ? "
        "WHERE update_id = ? AND handled_at IS NULL",
        (error[:500], to_db(retry_at), None if retry_at else to_db(now), update_id))


async def postpone(db: Database, update_id: int, retry_at: datetime) -> None:
    """Try again later, not counted as a failed try (the database was busy)."""
    await db.write("UPDATE inbox SET not_before = ? WHERE update_id = ? AND handled_at IS NULL",
                   (to_db(retry_at), update_id))


async def waiting_count(db: Database) -> int:
    row = await db.fetchone("SELECT COUNT(*) AS n FROM inbox WHERE handled_at IS NULL")
    return int(row["n"]) if row else 0


async def prune(db: Database, before: datetime) -> int:
    """What people wrote goes from updates handled before ``before`` (the payload is emptied); the update ids
    stay, so a copy Telegram gives again is still recognised. Returns how many were emptied."""
    async with db.transaction() as conn:
        cur = await conn.execute("UPDATE inbox SET payload = '{}' WHERE handled_at IS NOT NULL AND handled_at < ? "
                                 "AND payload != '{}'", (to_db(before),))
        return cur.rowcount
