"""A group that became a supergroup gets a new chat id (Telegram does this when someone turns Topics on in a
basic group): everything the bot keeps under the old id moves to the new one, in one transaction."""

from __future__ import annotations

import json

import aiosqlite

# every table holding a group's chat id; outbox rows are moved apart (only those still to be sent)
_MOVES = (
    "UPDATE OR IGNORE incidents SET chat_id = :new WHERE chat_id = :old",
    "UPDATE OR IGNORE departments SET chat_id = :new WHERE chat_id = :old",
    "UPDATE OR IGNORE memberships SET chat_id = :new WHERE chat_id = :old",
    "UPDATE OR IGNORE invites SET chat_id = :new WHERE chat_id = :old",
    "UPDATE OR IGNORE absences SET chat_id = :new WHERE chat_id = :old",
    "UPDATE OR IGNORE digests SET chat_id = :new WHERE chat_id = :old",
    "UPDATE OR IGNORE thread_messages SET chat_id = :new WHERE chat_id = :old",
    "UPDATE OR IGNORE awaited SET chat_id = :new WHERE chat_id = :old",
)


async def move(conn: aiosqlite.Connection, old: int, new: int) -> bool:
    """Move the group ``old`` to ``new``: the group, its incidents, organisation, drafts and queued calls.
    False if nothing was kept under ``old`` (already moved)."""
    await conn.execute("PRAGMA defer_foreign_keys = ON")  # incidents point at groups: checked at COMMIT
    cur = await conn.execute("SELECT 1 FROM groups WHERE chat_id = ?", (new,))
    if await cur.fetchone() is None:
        cur = await conn.execute("UPDATE groups SET chat_id = ? WHERE chat_id = ?", (new, old))
    else:  # the supergroup was bound already: the old binding goes, its contents move
        cur = await conn.execute("DELETE FROM groups WHERE chat_id = ?", (old,))
    moved = cur.rowcount
    for sql in _MOVES:
        cur = await conn.execute(sql, {"new": new, "old": old})
        moved += cur.rowcount
    cur = await conn.execute(
        "UPDATE outbox SET chat_id = ?, payload = json_set(payload, '$.chat_id', ?) "
        "WHERE chat_id = ? AND sent_at IS NULL AND failed_at IS NULL", (new, new, old))
    moved += cur.rowcount
    # intake drafts name the group they are for (and the groups their owner may choose from)
    cur = await conn.execute("SELECT user_id, data FROM intake")
    for row in await cur.fetchall():
        data = json.loads(row["data"])
        if data.get("group") == old or old in data.get("groups", []):
            data["group"] = new if data.get("group") == old else data.get("group")
            data["groups"] = [new if g == old else g for g in data.get("groups", [])]
            await conn.execute("UPDATE intake SET data = ? WHERE user_id = ?", (json.dumps(data), row["user_id"]))
            moved += 1
    return moved > 0
