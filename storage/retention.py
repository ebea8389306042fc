"""Personal data retention (Южно-Сахалинск п. 1.4): what citizens wrote is kept only as long as needed.

An incident closed before the cut-off loses the citizen's text, the link, where it was forwarded from,
the answer's drafts and texts and the published link. Everything the statistics need stays: states,
timers, events, departments, outcomes, dates. Intake drafts and awaited replies older than the cut-off
are deleted, and so are delivered outbox rows (they carry copies of the texts). One transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from storage.db import Database, to_db

# an incident still holding something to erase
_NOT_BLANK = ("(text != '' OR link IS NOT NULL OR origin != '{}' OR draft IS NOT NULL OR final_text IS NOT NULL "
              "OR published_link IS NOT NULL)")
_OLD_CLOSED = "state = 'closed' AND closed_at IS NOT NULL AND closed_at < :cut"
_OLD_DONE_OUTBOX = "created_at < :cut AND (sent_at IS NOT NULL OR failed_at IS NOT NULL)"


@dataclass(frozen=True)
class Erased:
    """How many rows lost (or would lose) their personal data."""

    incidents: int = 0
    intakes: int = 0
    awaited: int = 0
    outbox: int = 0

    @property
    def total(self) -> int:
        return self.incidents + self.intakes + self.awaited + self.outbox


async def erase(db: Database, older_than: datetime, *, dry_run: bool = False) -> Erased:
    """Blank the personal data of incidents closed before ``older_than``; drop old drafts, awaited replies
    and delivered outbox rows. Idempotent: a second run finds nothing. ``dry_run`` only counts."""
    cut = {"cut": to_db(older_than)}
    async with db.slow_transaction() as conn:  # in aiosqlite's thread: the bot goes on meanwhile

        async def count(sql: str) -> int:
            row = await (await conn.execute(sql, cut)).fetchone()
            return int(row[0]) if row else 0

        found = Erased(
            incidents=await count(f"SELECT COUNT(*) FROM incidents WHERE {_OLD_CLOSED} AND {_NOT_BLANK}"),
            intakes=await count("SELECT COUNT(*) FROM intake WHERE updated_at < :cut"),
            awaited=await count("SELECT COUNT(*) FROM awaited WHERE created_at < :cut"),
            outbox=await count(f"SELECT COUNT(*) FROM outbox WHERE {_OLD_DONE_OUTBOX}"),
        )
        if dry_run or found.total == 0:
            return found
        # freed bytes are overwritten with zeros, so the texts do not linger in the file's free space
        (was,) = await (await conn.execute("PRAGMA secure_delete")).fetchone()  # type: ignore[misc]
        await conn.execute("PRAGMA secure_delete=ON")
        try:
            await conn.execute(
                f"""UPDATE incidents SET text = '', link = NULL, origin = '{{}}', draft = NULL, final_text = NULL,
                           published_link = NULL WHERE {_OLD_CLOSED} AND {_NOT_BLANK}""", cut)
            await conn.execute("DELETE FROM intake WHERE updated_at < :cut", cut)
            await conn.execute("DELETE FROM awaited WHERE created_at < :cut", cut)
            await conn.execute(f"DELETE FROM outbox WHERE {_OLD_DONE_OUTBOX}", cut)
        finally:
            await conn.execute(f"PRAGMA secure_delete={int(was)}")
    # the old page images in the write-ahead log go too; best effort: a busy log is emptied next time
    with contextlib.suppress(sqlite3.Error):
        await db.checkpoint("TRUNCATE")
    return found


async def erase_closed(db: Database, older_than: datetime) -> int:
    """Erase (see ``erase``); the number of incidents whose texts were blanked now."""
    return (await erase(db, older_than)).incidents


# --- delivered calls pruned to their ids ----------------------------------------------------------------------

# What is kept of a delivered call's answer: the ids Telegram gave (the message, the topic); of an array
# (copyMessages), its elements' message ids. json_patch drops the keys whose value is null.
_KEPT_RESULT = """CASE
    WHEN json_valid(result) AND json_type(result) = 'object' THEN json_patch('{}', json_object(
        'message_id', json_extract(result, '$.message_id'),
        'message_thread_id', json_extract(result, '$.message_thread_id')))
    WHEN json_valid(result) AND json_type(result) = 'array' THEN (
        SELECT json_group_array(CASE WHEN type = 'object'
                                     THEN json_object('message_id', json_extract(value, '$.message_id'))
                                     ELSE value END)
        FROM json_each(result))
    ELSE result END"""


async def prune_delivered(db: Database, before: datetime, keep_latest: int = 20, batch: int = 2000) -> int:
    """Calls delivered before ``before`` keep their row (method, chat, purpose, times, attempts) and the ids
    Telegram answered with, not the payload nor the rest of the answer: nothing reads them once a call is
    delivered (the sender copies what it needs, topic, card, review message, into the incident when it marks
    the call sent: storage.outbox.record_result; "is the card queued" and "was this notice sent" read the
    purpose and the dates; the answer is written as its ids already, storage.outbox._result_json, and older rows
    get the same here). Each chat's latest ``keep_latest`` delivered calls stay whole, for the duplicate check's
    look at the latest copies (storage.outbox.own_messages). Pending and failed calls keep everything. Only calls
    not pruned yet are visited (index outbox_unpruned), ``batch`` a transaction, so the bot's use cases
    interleave. Returns how many were pruned."""
    pruned = 0
    after: tuple[str, int] = ("", 0)
    while True:
        async with db.slow_transaction() as conn:
            rows = await conn.execute_fetchall(
                """SELECT id, sent_at FROM outbox WHERE sent_at IS NOT NULL AND payload != '{}' AND sent_at < ?
                   AND (sent_at, id) > (?, ?) ORDER BY sent_at, id LIMIT ?""", (to_db(before), *after, batch))
            rows = list(rows)
            if rows:
                cursor = await conn.execute(
                    f"""UPDATE outbox SET payload = '{{}}', result = {_KEPT_RESULT}
                        WHERE id IN (SELECT value FROM json_each(:ids))
                          AND id NOT IN (SELECT o.id FROM outbox o WHERE o.chat_id = outbox.chat_id
                                         AND o.sent_at IS NOT NULL ORDER BY o.id DESC LIMIT :keep)""",
                    {"ids": json.dumps([r[0] for r in rows]), "keep": keep_latest})
                pruned += max(cursor.rowcount, 0)
        if len(rows) < batch:
            return pruned
        after = (rows[-1][1], rows[-1][0])
        await asyncio.sleep(0)
