"""The outbox: every outgoing Bot API call, written in the same transaction as the change it reports.

A row is a Bot API method with its JSON parameters. Parameters may hold references resolved at send
time, because the ids they need only exist once earlier rows are delivered:
    {"$thread": incident_id}   -> the incident's forum topic id (or dropped when it has none)
    {"$card": incident_id}     -> the message id of the incident's card
    {"$file": "path"}          -> a file on disk to upload (a report's chart or spreadsheet)
``purpose`` tells the sender what to record from the result: "topic:<incident>" stores the created
topic's id, "card:<incident>" the card's message id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from storage.db import Database, from_db, to_db


@dataclass(frozen=True)
class OutgoingCall:
    id: int
    chat_id: int
    method: str
    payload: dict[str, Any]
    purpose: str | None
    attempts: int
    not_before: datetime
    maybe_sent_at: datetime | None = None  # an earlier try may have been carried out (the bot died or timed out)
    known_before: int | None = None  # the highest message number known in the chat before the first try


async def enqueue(conn: aiosqlite.Connection, chat_id: int, method: str, payload: dict[str, Any], now: datetime,
                  purpose: str | None = None) -> int:
    """Add a call to the outbox; call inside the use case's transaction."""
    cur = await conn.execute(
        "INSERT INTO outbox(chat_id, method, payload, purpose, not_before, created_at) VALUES (?,?,?,?,?,?)",
        (chat_id, method, json.dumps(payload, ensure_ascii=False), purpose, to_db(now), to_db(now)),
    )
    return int(cur.lastrowid or 0)


async def enqueue_latest(conn: aiosqlite.Connection, chat_id: int, method: str, payload: dict[str, Any],
                         now: datetime, key: str) -> int:
    """Like enqueue, but an undelivered call with the same key is replaced: of several quick edits to a
    card only the last goes out (debouncing). The call keeps its place in the chat's queue."""
    cur = await conn.execute(
        "UPDATE outbox SET payload = ? WHERE purpose = ? AND chat_id = ? AND sent_at IS NULL AND failed_at IS NULL",
        (json.dumps(payload, ensure_ascii=False), key, chat_id))
    if cur.rowcount:
        return 0
    return await enqueue(conn, chat_id, method, payload, now, purpose=key)


async def heads_of_queues(db: Database, limit: int = 200) -> list[OutgoingCall]:
    """The oldest pending call of each chat (delivery is in order per chat)."""
    rows = await db.fetchall(
        """SELECT o.* FROM outbox o
           JOIN (SELECT chat_id, MIN(id) AS id FROM outbox
                 WHERE sent_at IS NULL AND failed_at IS NULL GROUP BY chat_id) h ON h.id = o.id
           ORDER BY o.not_before, o.id LIMIT ?""",
        (limit,),
    )
    return [_call(r) for r in rows]


async def start_try(db: Database, call_id: int, now: datetime, known_before: int | None = None) -> None:
    """Recorded before the call is made: if this write fails (a full disk) nothing is sent, and if the bot dies
    during the call, the next start knows the call may have been carried out (``recover``). ``known_before``:
    the highest message number known in the chat before the first try (``last_message_id``)."""
    await db.write("UPDATE outbox SET in_flight_at = ?, attempts = attempts + 1, "
                   "known_before = COALESCE(known_before, ?) WHERE id = ?", (to_db(now), known_before, call_id))


async def recover(db: Database) -> int:
    """At start: calls that were in flight when the bot died may have been carried out. They stay pending, flagged
    "maybe sent" (the sender looks for a duplicate after resending them). Returns how many."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE outbox SET maybe_sent_at = in_flight_at, in_flight_at = NULL "
            "WHERE in_flight_at IS NOT NULL AND sent_at IS NULL AND failed_at IS NULL")
        return cur.rowcount


async def mark_sent(conn: aiosqlite.Connection, call_id: int, now: datetime, result: Any) -> None:
    await conn.execute("UPDATE outbox SET sent_at = ?, result = ?, in_flight_at = NULL WHERE id = ?",
                       (to_db(now), json.dumps(result, ensure_ascii=False, default=str), call_id))


async def postpone(db: Database, call_id: int, until: datetime, error: str, maybe_sent: bool = False) -> None:
    """Try again at ``until``; ``maybe_sent``: this try may have been carried out (no answer in time)."""
    await db.write(
        "UPDATE outbox SET not_before = ?, last_error = ?, in_flight_at = NULL, "
        "maybe_sent_at = CASE WHEN ? THEN COALESCE(maybe_sent_at, in_flight_at) ELSE maybe_sent_at END WHERE id = ?",
        (to_db(until), error[:500], int(maybe_sent), call_id))


async def postpone_chat(db: Database, call_id: int, chat_id: int, until: datetime) -> None:
    """Telegram asked to slow down in this chat: nothing goes there before ``until``; the try is not counted."""
    async with db.transaction() as conn:
        await conn.execute("UPDATE outbox SET attempts = MAX(attempts - 1, 0), in_flight_at = NULL WHERE id = ?",
                           (call_id,))
        await conn.execute(
            "UPDATE outbox SET not_before = MAX(not_before, ?) "
            "WHERE chat_id = ? AND sent_at IS NULL AND failed_at IS NULL", (to_db(until), chat_id))


async def drop_thread(db: Database, call_id: int, payload: dict[str, Any]) -> None:
    """The topic is gone: the call goes to the group itself rather than be lost (at once, not counted a try)."""
    fixed = {k: v for k, v in payload.items() if k != "message_thread_id"}
    await db.write("UPDATE outbox SET payload = ?, in_flight_at = NULL, attempts = MAX(attempts - 1, 0) WHERE id = ?",
                   (json.dumps(fixed, ensure_ascii=False), call_id))


async def mark_failed(conn: aiosqlite.Connection, call_id: int, now: datetime, error: str) -> None:
    """Telegram refused the call for good: a dead letter, kept for the log; the chat's queue goes on."""
    await conn.execute("UPDATE outbox SET failed_at = ?, in_flight_at = NULL, last_error = ? WHERE id = ?",
                       (to_db(now), error[:500], call_id))


async def drop(db: Database, call_id: int) -> None:
    """A queued call no longer needed (not yet tried)."""
    await db.write("DELETE FROM outbox WHERE id = ? AND sent_at IS NULL AND in_flight_at IS NULL", (call_id,))


async def card_sent_to(conn: aiosqlite.Connection, incident_id: int, chat_id: int) -> bool:
    """Is (or was) the incident's card queued for this chat?"""
    cur = await conn.execute("SELECT 1 FROM outbox WHERE purpose = ? AND chat_id = ? AND failed_at IS NULL LIMIT 1",
                             (f"card:{incident_id}", chat_id))
    return await cur.fetchone() is not None


async def noticed_since(conn: aiosqlite.Connection, purpose: str, since: datetime) -> bool:
    """Was a notice with this purpose queued after ``since``? (one notice a day about one chat's dead letters)"""
    cur = await conn.execute("SELECT 1 FROM outbox WHERE purpose = ? AND created_at >= ? LIMIT 1",
                             (purpose, to_db(since)))
    return await cur.fetchone() is not None


async def pending_count(db: Database) -> int:
    row = await db.fetchone("SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL")
    return int(row["n"]) if row else 0


async def last_message_id(db: Database, chat_id: int) -> int | None:
    """The highest message number the bot knows in the chat now: its own messages (the results of its latest
    calls, the messages handlers posted themselves) and the updates it stored. Recorded with a creating call
    before it is made (``known_before``): if a resend is numbered right after it, nothing took a number in
    between, so the interrupted try made nothing. (Looking at the latest rows only can find a lower number than
    the true highest, which only makes the check more careful.)"""
    row = await db.fetchone(
        """SELECT MAX(id) AS id FROM (
             SELECT COALESCE(json_extract(result, '$.message_id'), json_extract(result, '$.message_thread_id'),
                             json_extract(result, '$[#-1].message_id')) AS id
               FROM (SELECT result FROM outbox WHERE chat_id = :chat AND sent_at IS NOT NULL ORDER BY id DESC LIMIT 20)
             UNION ALL
             SELECT MAX(message_id) AS id FROM direct_messages WHERE chat_id = :chat
             UNION ALL
             SELECT COALESCE(json_extract(payload, '$.message.message_id'),
                             json_extract(payload, '$.edited_message.message_id'),
                             json_extract(payload, '$.callback_query.message.message_id')) AS id
               FROM (SELECT payload FROM inbox WHERE lane = :chat ORDER BY update_id DESC LIMIT 20))""",
        {"chat": chat_id})
    return int(row["id"]) if row and row["id"] is not None else None


async def remember_direct(db: Database, chat_id: int, message_id: int, now: datetime) -> None:
    """A message a handler posted into a group itself (a reply to /bind...): its number is known, so a resent
    call's duplicate can be told by its number (``last_message_id``)."""
    async with db.transaction(mark_update=False) as conn:
        await conn.execute("INSERT OR IGNORE INTO direct_messages(chat_id, message_id, sent_at) VALUES (?, ?, ?)",
                           (chat_id, message_id, to_db(now)))


async def prune_direct(db: Database, before: datetime) -> None:
    await db.write("DELETE FROM direct_messages WHERE sent_at < ?", (to_db(before),))


def _call(row: Any) -> OutgoingCall:
    return OutgoingCall(
        id=row["id"], chat_id=row["chat_id"], method=row["method"], payload=json.loads(row["payload"]),
        purpose=row["purpose"], attempts=row["attempts"], not_before=datetime.fromisoformat(row["not_before"]),
        maybe_sent_at=from_db(row["maybe_sent_at"]), known_before=row["known_before"],
    )


# --- references resolved at send time, results recorded after ----------------------------------


async def resolve(db: Database, payload: dict[str, Any]) -> dict[str, Any] | None:
    """Replace {"$thread": id} / {"$card": id} / {"$review": id} / {"$panel": user} by real ids; None when
    the card, review message or panel does not exist (yet)."""
    out: dict[str, Any] = {}
    for key, value in payload.items():
        if isinstance(value, dict) and "$thread" in value:
            row = await db.fetchone("SELECT thread_id FROM incidents WHERE id = ?", (value["$thread"],))
            if row and row["thread_id"]:
                out[key] = row["thread_id"]
            continue  # no topic: the message goes to the group itself
        if isinstance(value, dict) and "$card" in value:
            row = await db.fetchone("SELECT card_message_id FROM incidents WHERE id = ?", (value["$card"],))
            if not row or not row["card_message_id"]:
                if key == "reply_parameters":
                    continue
                return None
            out[key] = ({"message_id": row["card_message_id"], "allow_sending_without_reply": True}
                        if key == "reply_parameters" else row["card_message_id"])
            continue
        if isinstance(value, dict) and "$review" in value:  # the incident's latest review message
            row = await db.fetchone("SELECT MAX(message_id) AS id FROM thread_messages WHERE incident_id = ? "
                                    "AND kind = 'review'", (value["$review"],))
            if not row or not row["id"]:
                return None
            out[key] = row["id"]
            continue
        if isinstance(value, dict) and "$panel" in value:  # the intake panel of this user's draft
            row = await db.fetchone("SELECT json_extract(data, '$.panel') AS panel FROM intake WHERE user_id = ?",
                                    (value["$panel"],))
            if not row or not row["panel"]:
                return None
            out[key] = row["panel"]
            continue
        if isinstance(value, dict) and "$file" in value and not Path(value["$file"]).is_file():
            return None  # the file is gone: nothing to upload (the sender turns "$file" into an upload)
        out[key] = value
    return out


async def record_result(conn: aiosqlite.Connection, purpose: str | None, result: dict[str, Any]) -> None:
    if not purpose:
        return
    kind, _, ref = purpose.partition(":")
    if kind == "topic" and result.get("message_thread_id"):
        await conn.execute("UPDATE incidents SET thread_id = ? WHERE id = ?", (result["message_thread_id"], int(ref)))
    elif kind in ("thread", "review") and result.get("message_id"):  # a review message carries its buttons
        await conn.execute(
            "INSERT OR IGNORE INTO thread_messages(chat_id, message_id, incident_id, kind) VALUES (?,?,?,?)",
            (result["chat"]["id"], result["message_id"], int(ref), kind if kind == "review" else None))
    elif kind == "panel" and result.get("message_id"):  # the intake panel of this user's draft
        await conn.execute("UPDATE intake SET data = json_set(data, '$.panel', ?) WHERE user_id = ?",
                           (result["message_id"], int(ref)))
    elif kind == "card" and result.get("message_id"):
        await conn.execute("UPDATE incidents SET card_message_id = ? WHERE id = ?", (result["message_id"], int(ref)))
