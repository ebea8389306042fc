"""The outbox: every outgoing Bot API call, written in the same transaction as the change it reports.

A row is a Bot API method with its JSON parameters. Parameters may hold references resolved at send
time, because the ids they need only exist once earlier rows are delivered:
    {"$thread": incident_id}   -> the incident's forum topic id (or dropped when it has none)
    {"$card": incident_id}     -> the message id of the incident's card
    {"$file": "path"}          -> a file on disk to upload (a report's chart or spreadsheet)
``purpose`` tells the sender what to record from the result: "topic:<incident>" stores the created
topic's id, "card:<incident>" the card's message id.

Each row has a priority (``priority_of``; a caller may say otherwise): URGENT is what a person is waiting for
(the review for the chief, the intake panel and its edits, replies in a private chat, the ticks of a press),
NORMAL the workflow's posts (topic, card, copies, thread messages), BACKGROUND what only informs (reminders and
overdue notices, digests, escalations, card edits that refresh state). And each row belongs to a lane
(``lane_of``): the calls of one incident in a chat are one lane, delivered in the order they were queued (a
thread message needs its topic first, an edit its card, a reference is resolved at send time); the chat's
other calls form one lane per priority. The sender takes, in a chat, the lane whose highest priority is
highest, then the oldest (storage never decides that: ``pending`` only reads).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
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
    priority: int = 1  # URGENT, NORMAL or BACKGROUND
    lane: str = field(default="", compare=False)  # calls of one lane keep their order (lane_of)


URGENT, NORMAL, BACKGROUND = 0, 1, 2

# purposes (the part before ":") and the priority they mean
_URGENT_KINDS = frozenset({"review", "panel", "panel-edit", "ticks", "reroute", "reply"})
_BACKGROUND_KINDS = frozenset({"notice", "digest", "edit"})
_NORMAL_KINDS = frozenset({"topic", "card", "thread"})
# purposes whose reference (after ":") is an incident: the call is in that incident's lane
_INCIDENT_KINDS = frozenset({"topic", "card", "thread", "review", "notice", "edit", "ticks", "reroute"})


def priority_of(chat_id: int, method: str, purpose: str | None) -> int:
    """What a person waits for goes first (URGENT), then the workflow's posts (NORMAL), then what only informs
    (BACKGROUND). A call without a purpose: in a private chat it answers a person (a reply to a command or a
    press; reminders there carry a "notice:" purpose), in a group it is a workflow post or a topic call."""
    kind = (purpose or "").partition(":")[0]
    if kind in _URGENT_KINDS:
        return URGENT
    if kind in _BACKGROUND_KINDS:
        return BACKGROUND
    if kind in _NORMAL_KINDS or chat_id < 0:
        return NORMAL
    return URGENT


def incident_of(purpose: str | None, payload: dict[str, Any], thread_incident: int | None = None) -> int | None:
    """The incident a call belongs to: its purpose's reference, a reference in its parameters, or the incident
    whose topic its literal ``message_thread_id`` is (``thread_incident``, looked up by ``pending``)."""
    kind, _sep, ref = (purpose or "").partition(":")
    ref = ref.partition(":")[0]
    if kind in _INCIDENT_KINDS and ref.isdigit():
        return int(ref)
    for value in payload.values():
        if isinstance(value, dict):
            for key in ("$thread", "$card", "$review"):
                if key in value:
                    return int(value[key])
    return thread_incident


def lane_of(chat_id: int, purpose: str | None, payload: dict[str, Any], priority: int,
            thread_incident: int | None = None) -> str:
    """Calls of one lane go out in the order they were queued: an incident's calls in a chat (whatever their
    priority), else the chat's calls of one priority (two replies in a row, a ban and its unban)."""
    incident = incident_of(purpose, payload, thread_incident)
    return f"incident:{incident}" if incident is not None else f"priority:{priority}"


def mergeable(call: OutgoingCall) -> bool:
    """A background notice that may go out in one message with the next ones to the same place."""
    return passable(call) and "reply_markup" not in call.payload and isinstance(call.payload.get("text"), str)


def notice_purpose(incident_id: int, timers: Sequence[int] = ()) -> str:
    """A reminder in an incident's thread that speaks of these timers rows: ``notice:<incident>:timers:<ids>``."""
    return f"notice:{incident_id}:timers:" + ",".join(str(t) for t in timers) if timers else f"notice:{incident_id}"


def timers_of(call: OutgoingCall) -> set[int]:
    """The timers rows a queued reminder speaks of (``notice_purpose``); empty for any other call."""
    kind, _sep, rest = (call.purpose or "").partition(":")
    _incident, _sep, timers = rest.partition(":timers:")
    return {int(t) for t in timers.split(",") if t.isdigit()} if kind == "notice" else set()


CLOSING_TOPIC = frozenset({"closeForumTopic", "deleteForumTopic"})


def passable(call: OutgoingCall) -> bool:
    """A notice that the calls queued behind it in its lane may overtake: no later call refers to a notice's
    message, and one that may already have been posted (``maybe_sent_at``) keeps its place for the duplicate
    check."""
    return (call.method == "sendMessage" and (call.purpose or "").startswith("notice:")
            and call.maybe_sent_at is None)


def same_place(a: OutgoingCall, b: OutgoingCall) -> bool:
    """Two notices that would land in the same place (chat, topic, reply), so one message can say both."""
    return a.chat_id == b.chat_id and {k: v for k, v in a.payload.items() if k != "text"} == \
        {k: v for k, v in b.payload.items() if k != "text"}


async def enqueue(conn: aiosqlite.Connection, chat_id: int, method: str, payload: dict[str, Any], now: datetime,
                  purpose: str | None = None, priority: int | None = None) -> int:
    """Add a call to the outbox; call inside the use case's transaction. ``priority``: when the purpose does not
    tell (``priority_of``), e.g. a prompt a person waits for that goes into an incident's thread."""
    if priority is None:
        priority = priority_of(chat_id, method, purpose)
    cur = await conn.execute(
        "INSERT INTO outbox(chat_id, method, payload, purpose, not_before, created_at, priority) "
        "VALUES (?,?,?,?,?,?,?)",
        (chat_id, method, json.dumps(payload, ensure_ascii=False), purpose, to_db(now), to_db(now), priority),
    )
    return int(cur.lastrowid or 0)


async def enqueue_latest(conn: aiosqlite.Connection, chat_id: int, method: str, payload: dict[str, Any],
                         now: datetime, key: str, priority: int | None = None) -> int:
    """Like enqueue, but an undelivered call with the same key is replaced: of several quick edits to a
    card only the last goes out (debouncing). The call keeps its place in the chat's queue."""
    cur = await conn.execute(
        "UPDATE outbox SET payload = ? WHERE purpose = ? AND chat_id = ? AND sent_at IS NULL AND failed_at IS NULL "
        "AND in_flight_at IS NULL AND merged_into IS NULL",
        (json.dumps(payload, ensure_ascii=False), key, chat_id))
    if cur.rowcount:
        return 0
    return await enqueue(conn, chat_id, method, payload, now, purpose=key, priority=priority)


async def pending(db: Database, limit: int = 2000, decoded: dict[int, tuple[tuple, OutgoingCall]] | None = None,
                  per_chat: int = 200) -> list[OutgoingCall]:
    """The calls waiting to go out, oldest first, each with its lane (``lane_of``): each chat's oldest
    ``per_chat`` (a chat with thousands queued — an outage, a mass notice — hides no other chat's calls). A call
    with a literal topic id (closing or renaming an incident's topic) is in that incident's lane, looked up here.

    ``decoded``: the sender's memory of rows it has read before (id -> the row's state, its call). It looks every
    time a call ends: the waiting rows are read without their payloads, and only a row it has not seen, or whose
    state or payload (``rev``) changed since, is read whole and decoded (reading and decoding the payloads was
    most of the cost)."""
    rows = await db.fetchall(  # the usual case, a few calls waiting: a plain indexed read (a third of the cost)
        f"SELECT {_STATE} FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL AND merged_into IS NULL "
        "ORDER BY id LIMIT ?", (limit,))
    if len(rows) > per_chat and max(Counter(r[1] for r in rows).values()) > per_chat:  # one chat hides others
        rows = await db.fetchall(
            f"""SELECT {_STATE} FROM (SELECT {_STATE}, ROW_NUMBER() OVER (PARTITION BY chat_id ORDER BY id) AS nth
                                     FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL AND merged_into IS NULL)
                WHERE nth <= ? ORDER BY id LIMIT ?""", (per_chat, limit))
    known = decoded if decoded is not None else {}
    states = {r[0]: tuple(r) for r in rows}
    stale = [i for i, state in states.items() if i not in known or known[i][0] != state]
    fresh: dict[int, OutgoingCall] = {}
    for r in await db.fetchall(  # no task of this process runs between the two reads (another's change: next look)
            """SELECT o.*, CASE WHEN o.chat_id < 0 AND json_type(o.payload, '$.message_thread_id') = 'integer'
                       THEN (SELECT i.id FROM incidents i WHERE i.chat_id = o.chat_id
                             AND i.thread_id = json_extract(o.payload, '$.message_thread_id') LIMIT 1) END
                  AS thread_incident
               FROM outbox o WHERE o.id IN (SELECT value FROM json_each(?))""", (json.dumps(stale),)) if stale else ():
        call = _call(r)
        fresh[call.id] = OutgoingCall(**{**call.__dict__, "lane": lane_of(
            call.chat_id, call.purpose, call.payload, call.priority, r["thread_incident"])})
    calls, seen = [], {}
    for call_id, state in states.items():
        call = fresh[call_id] if call_id in fresh else known[call_id][1] if call_id in known else None
        if call is None:  # gone between the two reads (another process): not waiting any more
            continue
        seen[call_id] = (state, call)
        calls.append(call)
    if decoded is not None:  # what was delivered since is forgotten
        decoded.clear()
        decoded.update(seen)
    return calls


# what of a waiting row may change while it waits (its payload: rev, see migration 10; its chat: chats.move)
_STATE = "id, chat_id, rev, attempts, not_before, maybe_sent_at, known_before, priority"


async def heads_of_queues(db: Database, limit: int = 200) -> list[OutgoingCall]:
    """The oldest pending call of each lane of each chat."""
    seen: set[tuple[int, str]] = set()
    heads = []
    for call in await pending(db):
        if (call.chat_id, call.lane) not in seen:
            seen.add((call.chat_id, call.lane))
            heads.append(call)
    return heads[:limit]


async def merge(db: Database, head: OutgoingCall, text: str, others: list[int]) -> OutgoingCall:
    """Notices that go out as one message: the head carries the joined text, the others wait for it (merged
    into it: no longer pending on their own) and share its outcome. One transaction, before the try is
    recorded: after a crash the head is resent with the joined text and the others stay with it."""
    payload = {**head.payload, "text": text}
    async with db.transaction() as conn:
        await conn.execute("UPDATE outbox SET payload = ? WHERE id = ?", (json.dumps(payload, ensure_ascii=False),
                                                                          head.id))
        await conn.executemany("UPDATE outbox SET merged_into = ? WHERE id = ? AND in_flight_at IS NULL",
                               [(head.id, other) for other in others])
    return OutgoingCall(**{**head.__dict__, "payload": payload})


async def start_try(db: Database, call_id: int, now: datetime, known_in: int | None = None) -> None:
    """Recorded before the call is made: if this write fails (a full disk) nothing is sent, and if the bot dies
    during the call, the next start knows the call may have been carried out (``recover``). ``known_in``: a
    chat whose highest known message number (``last_message_id``) is kept with the first try (in the same
    statement), for the duplicate check."""
    await db.write(
        "UPDATE outbox SET in_flight_at = :now, attempts = attempts + 1, known_before = COALESCE(known_before, "
        f"CASE WHEN :chat IS NOT NULL THEN {_LAST_MESSAGE_ID} END) WHERE id = :id",
        {"now": to_db(now), "chat": known_in, "id": call_id})


async def recover(db: Database) -> int:
    """At start: calls that were in flight when the bot died may have been carried out. They stay pending, flagged
    "maybe sent" (the sender looks for a duplicate after resending them). Returns how many."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE outbox SET maybe_sent_at = in_flight_at, in_flight_at = NULL "
            "WHERE in_flight_at IS NOT NULL AND sent_at IS NULL AND failed_at IS NULL")
        return cur.rowcount


async def mark_sent(conn: aiosqlite.Connection, call_id: int, now: datetime, result: Any) -> None:
    """Delivered; so are the notices merged into it (the same result)."""
    await conn.execute(_MARK_SENT, _sent(call_id, now, result))


_MARK_SENT = ("UPDATE outbox SET sent_at = ?, result = ?, message_id = ?, in_flight_at = NULL "
              "WHERE id = ? OR merged_into = ?")


def _sent(call_id: int, now: datetime, result: Any) -> tuple[Any, ...]:
    return to_db(now), _result_json(result), message_of(result), call_id, call_id


def _result_json(result: Any) -> str:
    """What is kept of Telegram's answer: the numbers it gave (the message's, the topic's, each copy's), all that is
    read of it later (storage.retention keeps the same of older rows); anything else as it came (``true``)."""
    if isinstance(result, dict):
        result = {k: result[k] for k in ("message_id", "message_thread_id") if k in result}
    elif isinstance(result, list):
        result = [{"message_id": r["message_id"]} if isinstance(r, dict) and "message_id" in r else r for r in result]
    return json.dumps(result, ensure_ascii=False, default=str)


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
    await conn.execute("UPDATE outbox SET failed_at = ?, in_flight_at = NULL, last_error = ? "
                       "WHERE id = ? OR merged_into = ?", (to_db(now), error[:500], call_id, call_id))


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
    row = await db.fetchone(f"SELECT {_LAST_MESSAGE_ID} AS id", {"chat": chat_id})
    return int(row["id"]) if row and row["id"] is not None else None


# last_message_id's query, of the chat ``:chat``: the last entry of three indexes (numbers kept at write time)
_LAST_MESSAGE_ID = """(SELECT MAX(id) FROM (
             SELECT MAX(message_id) AS id FROM outbox WHERE chat_id = :chat AND message_id IS NOT NULL
             UNION ALL
             SELECT MAX(message_id) AS id FROM direct_messages WHERE chat_id = :chat
             UNION ALL
             SELECT MAX(message_id) AS id FROM inbox WHERE lane = :chat AND message_id IS NOT NULL))"""


def message_of(result: Any) -> int | None:
    """The number of the message a call made (or edited): a message's, a topic's (its first message), or the last
    of several (copyMessages); None for an answer that names none."""
    if isinstance(result, list):
        result = next((r for r in reversed(result) if isinstance(r, dict)), None)
    if not isinstance(result, dict):
        return None
    number = result.get("message_id") or result.get("message_thread_id")
    return number if isinstance(number, int) else None


async def own_messages(db: Database, chat_id: int, low: int, high: int) -> set[int]:
    """The bot's messages in the chat numbered from ``low`` to ``high`` that it knows it sent (its latest delivered
    calls, copies included, and its handlers' own posts)."""
    rows = await db.fetchall(
        """SELECT COALESCE(CASE WHEN json_valid(o.result) THEN json_extract(o.result, '$.message_id') END,
                           json_extract(j.value, '$.message_id')) AS id
             FROM (SELECT result FROM outbox WHERE chat_id = :chat AND sent_at IS NOT NULL ORDER BY id DESC LIMIT 50) o
             LEFT JOIN json_each(CASE WHEN json_valid(o.result) AND json_type(o.result) = 'array' THEN o.result
                                      ELSE '[]' END) j
           UNION ALL
           SELECT message_id FROM direct_messages WHERE chat_id = :chat AND message_id BETWEEN :low AND :high""",
        {"chat": chat_id, "low": low, "high": high})
    return {int(r["id"]) for r in rows if r["id"] is not None and low <= int(r["id"]) <= high}


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
        maybe_sent_at=from_db(row["maybe_sent_at"]), known_before=row["known_before"], priority=row["priority"],
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
    """What a call's answer tells the bot to keep: the topic, card or panel it made, a message of a thread."""
    write = _result_write(purpose, result)
    if write is not None:
        await conn.execute(*write)


async def record_sent(db: Database, call_id: int, now: datetime, purpose: str | None, result: Any,
                      note: tuple[int, dict[str, Any]] | None = None) -> int | None:
    """Delivered (``mark_sent``), what the answer tells kept (``record_result``) and a note to post after it
    (chat, parameters), all at once: one statement when marking it is all, else one transaction. Returns the
    note's row."""
    write = _result_write(purpose, result) if isinstance(result, dict) else None
    if write is None and note is None:
        await db.write(_MARK_SENT, _sent(call_id, now, result))
        return None
    async with db.transaction() as conn:
        await mark_sent(conn, call_id, now, result)
        if write is not None:
            await conn.execute(*write)
        return await enqueue(conn, note[0], "sendMessage", note[1], now) if note else None


def _result_write(purpose: str | None, result: dict[str, Any]) -> tuple[str, tuple[Any, ...]] | None:
    kind, _, ref = (purpose or "").partition(":")
    if kind == "topic" and result.get("message_thread_id"):
        return "UPDATE incidents SET thread_id = ? WHERE id = ?", (result["message_thread_id"], int(ref))
    if kind in ("thread", "review", "notice") and ref.isdigit() and result.get("message_id"):
        # a message of the incident's thread (a review message carries its buttons): a reply to it is about it
        return ("INSERT OR IGNORE INTO thread_messages(chat_id, message_id, incident_id, kind) VALUES (?,?,?,?)",
                (result["chat"]["id"], result["message_id"], int(ref), kind if kind == "review" else None))
    if kind == "panel" and result.get("message_id"):  # the intake panel of this user's draft
        return ("UPDATE intake SET data = json_set(data, '$.panel', ?) WHERE user_id = ?",
                (result["message_id"], int(ref)))
    if kind == "card" and result.get("message_id"):
        return "UPDATE incidents SET card_message_id = ? WHERE id = ?", (result["message_id"], int(ref))
    return None
