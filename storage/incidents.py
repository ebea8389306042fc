"""Incidents, their timers, intake drafts and awaited replies: the SQL behind the workflow."""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosqlite

from bot.workflow.model import Incident, RunningTimer, State
from bot.workflow.notices import status_fingerprint, status_keys
from profiles.events import Outcome
from profiles.schema import Profile
from storage.db import Database, from_db, to_db


@dataclass(frozen=True)
class IncidentRow:
    """An incident as stored: the core's value plus what the bot shows and where."""

    incident: Incident
    chat_id: int
    profile: str
    source: str
    text: str
    link: str | None
    origin: dict[str, Any]
    draft: dict[str, Any] | None
    final_text: str | None
    thread_id: int | None
    card_message_id: int | None
    detected_at: datetime
    significant: bool
    outcome_reason: str | None
    repeat_of: int | None = None  # the earlier incident this message repeats
    published_link: str | None = None


async def next_id(conn: aiosqlite.Connection) -> int:
    row = await (await conn.execute("SELECT IFNULL(MAX(id), 0) + 1 FROM incidents")).fetchone()
    return int(row[0]) if row else 1


async def insert(conn: aiosqlite.Connection, incident: Incident, *, chat_id: int, profile: str, source: str,
                 text: str, link: str | None, origin: dict[str, Any], detected_at: datetime, created_by: int,
                 now: datetime, significant: bool = False, repeat_of: int | None = None) -> None:
    await conn.execute(
        """INSERT INTO incidents(id, chat_id, profile, source, track, state, text, link, origin, created_by,
                                 detected_at, created_at, significant, repeat_of)
           VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
        (incident.id, chat_id, profile, source, incident.track, incident.state.value, text, link,
         json.dumps(origin, ensure_ascii=False), created_by, to_db(detected_at), to_db(now), int(significant),
         repeat_of),
    )


async def earlier_with_link(db: Database, chat_id: int, links: list[str]) -> int | None:
    """The latest incident of the group about one of these links: the message may repeat it."""
    if not links:
        return None
    row = await db.fetchone(
        "SELECT id FROM incidents WHERE chat_id=? AND link IN (SELECT value FROM json_each(?)) "
        "ORDER BY id DESC LIMIT 1", (chat_id, json.dumps(links)))
    return int(row["id"]) if row else None


async def same_issue_since(conn: aiosqlite.Connection, incident_id: int, since: datetime) -> list[int]:
    """Incidents on the same issue as this one created since then: the same link, or linked as repeats
    (either way round, one step), this one included."""
    rows = await conn.execute_fetchall(
        """WITH me AS (SELECT id, chat_id, link, IFNULL(repeat_of, id) AS root FROM incidents WHERE id=?)
           SELECT i.id FROM incidents i, me WHERE i.chat_id = me.chat_id AND i.created_at >= ?
             AND (i.id = me.id OR (me.link IS NOT NULL AND i.link = me.link)
                  OR IFNULL(i.repeat_of, i.id) = me.root)
           ORDER BY i.id""", (incident_id, to_db(since)))
    return [int(r[0]) for r in rows]


async def log_events(conn: aiosqlite.Connection, incident_id: int, events: tuple[str, ...], at: datetime,
                     user_id: int | None, department_id: int | None = None) -> None:
    """The event log the reports read (how often a draft was returned, who did what, when)."""
    for event in events:
        await conn.execute(
            "INSERT INTO incident_events(incident_id, event, at, user_id, department_id) VALUES (?,?,?,?,?)",
            (incident_id, event, to_db(at), user_id, department_id))


async def save(conn: aiosqlite.Connection, profile: Profile, incident: Incident, now: datetime,
               stopped: tuple[Any, ...] = (), reason: str | None = None,
               plan: Callable[[RunningTimer], datetime | None] | None = None) -> None:
    """Write the incident's state and bring its running timers in line with the core's.
    ``plan`` gives a new or changed timer's first notice moment (reminder or overdue)."""
    await conn.execute(
        """UPDATE incidents SET state=?, departments=?, step=?, outcome=?, intermediate_given=?, resume_state=?,
                  parts_done=?, parts_accepted=?, event_times=?, closed_at=?,
                  outcome_reason=IFNULL(?, outcome_reason) WHERE id=?""",
        (incident.state.value, json.dumps(list(incident.departments)), incident.step,
         incident.outcome.value if incident.outcome else None, int(incident.intermediate_given),
         incident.resume_state.value if incident.resume_state else None, json.dumps(sorted(incident.parts_done)),
         json.dumps(sorted(incident.parts_accepted)),
         json.dumps({k: to_db(v) for k, v in incident.event_times.items()}),
         to_db(now) if incident.state is State.CLOSED else None, reason, incident.id),
    )
    for s in stopped:
        cur = await conn.execute(
            """UPDATE timers SET stopped_at=?, stop_event=? WHERE incident_id=? AND timer_id=?
               AND IFNULL(department_id, 0)=IFNULL(?, 0) AND stopped_at IS NULL""",
            (to_db(s.stopped_at), s.event, incident.id, s.timer.timer_id, s.timer.department_id),
        )
        if cur.rowcount == 0:  # started and stopped in one use case (routing at intake): keep the record
            spec = profile.timer(s.timer.timer_id, incident.track)
            await conn.execute(
                """INSERT INTO timers(incident_id, timer_id, department_id, clause, role, started_at, due_at,
                                      stopped_at, stop_event) VALUES (?,?,?,?,?,?,?,?,?)""",
                (incident.id, s.timer.timer_id, s.timer.department_id, spec.clause, spec.role,
                 to_db(s.timer.started_at), to_db(s.timer.due_at), to_db(s.stopped_at), s.event))
    running = {(r["timer_id"], r["department_id"]): r for r in await conn.execute_fetchall(
        "SELECT * FROM timers WHERE incident_id=? AND stopped_at IS NULL", (incident.id,))}
    for t in incident.timers:
        spec = profile.timer(t.timer_id, incident.track)
        row = running.pop(t.key, None)
        values = (to_db(t.started_at), to_db(t.due_at), to_db(t.paused_at), _remaining_db(t.remaining))
        notice = to_db(plan(t)) if plan is not None and t.paused_at is None else None
        if row is None:
            await conn.execute(
                """INSERT INTO timers(incident_id, timer_id, department_id, clause, role, started_at, due_at,
                                      paused_at, remaining, next_notice_at) VALUES (?,?,?,?,?,?,?,?,?,?)""",
                (incident.id, t.timer_id, t.department_id, spec.clause, spec.role, *values, notice))
        elif (row["started_at"], row["due_at"], row["paused_at"], row["remaining"]) != values:
            await conn.execute(
                "UPDATE timers SET started_at=?, due_at=?, paused_at=?, remaining=?, next_notice_at=? WHERE id=?",
                (*values, notice, row["id"]))
    for row in running.values():  # restarted or dropped by the core without a stop event
        await conn.execute("UPDATE timers SET stopped_at=?, stop_event='replaced' WHERE id=?", (to_db(now), row["id"]))
    await write_status(conn, profile, incident)


async def write_status(conn: aiosqlite.Connection, profile: Profile, incident: Incident) -> None:
    """What /status and the digest sort, count and filter the incident by (bot.workflow.notices.status_keys),
    beside it: in the transaction that saves it (``save``), so they never disagree with its timers."""
    keys, departments = _status_values(profile, incident)
    await conn.execute("UPDATE incidents SET status_due=?, status_late=?, status_waiting=?, status_of=? WHERE id=?",
                       keys)
    old = [tuple(r) for r in await conn.execute_fetchall(
        "SELECT department_id, incident_id, listed, his_due, due, late FROM status_departments WHERE incident_id=? "
        "ORDER BY department_id", (incident.id,))]
    if old == departments:
        return
    await conn.execute("DELETE FROM status_departments WHERE incident_id=?", (incident.id,))
    await conn.executemany(_INSERT_DEPARTMENTS, departments)


_INSERT_DEPARTMENTS = ("INSERT INTO status_departments(department_id, incident_id, listed, his_due, due, late) "
                       "VALUES (?,?,?,?,?,?)")


def _status_values(profile: Profile, incident: Incident) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    """The incident's row's values (status_due, status_late, status_waiting, status_of, id) and its rows of
    status_departments, sorted."""
    keys = status_keys(profile, incident)
    due, late = to_db(keys.due), to_db(keys.late_from)
    departments = sorted((d, incident.id, int(listed), his, his or due, his or late)
                         for d, listed, his in ((d, listed, to_db(his)) for d, listed, his in keys.departments))
    return (due, late, to_db(keys.waiting), status_fingerprint(profile), incident.id), departments


async def load(db: Database | aiosqlite.Connection, incident_id: int) -> IncidentRow | None:
    conn = db.conn if isinstance(db, Database) else db
    rows = await conn.execute_fetchall("SELECT * FROM incidents WHERE id=?", (incident_id,))
    if not rows:
        return None
    timers = await conn.execute_fetchall(
        "SELECT * FROM timers WHERE incident_id=? AND stopped_at IS NULL ORDER BY id", (incident_id,))
    return _row(rows[0], list(timers))


async def load_many(conn: aiosqlite.Connection, incident_ids: list[int]) -> dict[int, IncidentRow]:
    """Several incidents with their running timers, in two queries (the scheduler's batch)."""
    ids = json.dumps(sorted(set(incident_ids)))
    rows = await conn.execute_fetchall("SELECT * FROM incidents WHERE id IN (SELECT value FROM json_each(?))", (ids,))
    timers = await conn.execute_fetchall(
        "SELECT * FROM timers WHERE incident_id IN (SELECT value FROM json_each(?)) AND stopped_at IS NULL "
        "ORDER BY incident_id, id", (ids,))
    by_incident: dict[int, list[Any]] = {}
    for t in timers:
        by_incident.setdefault(t["incident_id"], []).append(t)
    return {r["id"]: _row(r, by_incident.get(r["id"], [])) for r in rows}


async def find_by_thread(db: Database, chat_id: int, thread_id: int) -> int | None:
    row = await db.fetchone("SELECT id FROM incidents WHERE chat_id=? AND thread_id=?", (chat_id, thread_id))
    return int(row["id"]) if row else None


async def find_by_message(db: Database, chat_id: int, message_id: int) -> int | None:
    """The incident whose card (or a message the bot posted about it) is this message."""
    row = await db.fetchone("SELECT id FROM incidents WHERE chat_id=? AND card_message_id=?", (chat_id, message_id))
    if row:
        return int(row["id"])
    row = await db.fetchone(
        "SELECT incident_id FROM thread_messages WHERE chat_id=? AND message_id=?", (chat_id, message_id))
    return int(row["incident_id"]) if row else None


async def set_draft(conn: aiosqlite.Connection, incident_id: int, draft: dict[str, Any] | None) -> None:
    await conn.execute("UPDATE incidents SET draft=? WHERE id=?",
                       (json.dumps(draft, ensure_ascii=False) if draft else None, incident_id))


async def set_final_text(conn: aiosqlite.Connection, incident_id: int, text: str | None) -> None:
    await conn.execute("UPDATE incidents SET final_text=? WHERE id=?", (text, incident_id))


async def set_published_link(conn: aiosqlite.Connection, incident_id: int, link: str | None) -> None:
    await conn.execute("UPDATE incidents SET published_link=? WHERE id=?", (link, incident_id))


async def open_incidents(db: Database, chat_id: int | None = None,
                         departments: Collection[int] | None = None) -> list[int]:
    """Open incidents (of a group; ``departments``: only those assigned to one of these)."""
    sql = "SELECT id FROM incidents WHERE state != 'closed'"
    params: list[Any] = []
    if chat_id is not None:
        sql += " AND chat_id = ?"
        params.append(chat_id)
    if departments is not None:
        sql += (" AND EXISTS (SELECT 1 FROM json_each(incidents.departments) d"
                " WHERE d.value IN (SELECT value FROM json_each(?)))")
        params.append(json.dumps(sorted(departments)))
    return [int(r["id"]) for r in await db.fetchall(sql + " ORDER BY id", params)]


@dataclass(frozen=True)
class OpenPage:
    """A group's open incidents in /status's order: how many, how many late, the first ``limit`` ids."""

    total: int
    late: int
    ids: list[int]


# /status's order: by the deadline shown, none last, then by number (bot.workflow.notices.status_keys, kept by
# write_status). Whoever sees every incident: incidents.status_*; the head of one department: his rows of
# status_departments, both read in index order. Several departments: the nearest of the deadlines any of them
# must meet, else the incident's (status_timer's rule), by combining their rows. The indexes are named: without
# ANALYZE's statistics SQLite may count through another index of the chat's incidents, one table read each.
_ALL_COUNT = """SELECT COUNT(*) AS total, COUNT(CASE WHEN status_late < :now THEN 1 END) AS late
                FROM incidents INDEXED BY incidents_status WHERE chat_id = :chat AND state != 'closed'"""
_ALL_PAGE = """SELECT id FROM incidents INDEXED BY incidents_status WHERE chat_id = :chat AND state != 'closed'
               ORDER BY status_due IS NULL, status_due, id LIMIT :limit"""
_ONE_COUNT = """SELECT COUNT(*) AS total, COUNT(CASE WHEN late < :now THEN 1 END) AS late
                FROM status_departments INDEXED BY status_departments_order
                WHERE department_id = :department AND listed = 1"""
_ONE_PAGE = """SELECT incident_id AS id FROM status_departments INDEXED BY status_departments_order
               WHERE department_id = :department AND listed = 1
               ORDER BY due IS NULL, due, incident_id LIMIT :limit"""
_MANY = """WITH per AS (
    SELECT incident_id AS id, IFNULL(MIN(his_due), MIN(due)) AS due, IFNULL(MIN(his_due), MIN(late)) AS late
    FROM status_departments WHERE department_id IN (SELECT value FROM json_each(:departments))
    GROUP BY incident_id HAVING MAX(listed) = 1)"""
_MANY_COUNT = _MANY + " SELECT COUNT(*) AS total, COUNT(CASE WHEN late < :now THEN 1 END) AS late FROM per"
_MANY_PAGE = _MANY + " SELECT id FROM per ORDER BY due IS NULL, due, id LIMIT :limit"


async def open_page(db: Database, chat_id: int, now: datetime, departments: Collection[int] | None = None,
                    limit: int = 100) -> OpenPage:
    """The group's open incidents in /status's order, whatever their number, in two queries: ``departments``
    None, every one; else those listing one of these departments (of this group), timed by the deadlines
    their heads must meet."""
    # ``now`` to the microsecond: a deadline this very second is late once the second has begun, as in Python
    params: dict[str, Any] = {"chat": chat_id, "now": now.astimezone(UTC).isoformat(), "limit": limit}
    if departments is None:
        count, page = _ALL_COUNT, _ALL_PAGE
    elif len(departments) == 1:
        count, page = _ONE_COUNT, _ONE_PAGE
        params["department"] = next(iter(departments))
    else:
        count, page = _MANY_COUNT, _MANY_PAGE
        params["departments"] = json.dumps(sorted(departments))
    counted = await db.fetchone(count, params)
    ids = [int(r["id"]) for r in await db.fetchall(page, params)]
    return OpenPage(int(counted["total"]) if counted else 0, int(counted["late"]) if counted else 0, ids)


async def waiting_page(db: Database, chat_id: int, limit: int) -> tuple[int, list[int]]:
    """The digest's open incidents: how many, and the first ``limit`` by the deadline of the step each waits
    for (none last, then by number)."""
    counted = await db.fetchone("SELECT COUNT(*) AS n FROM incidents INDEXED BY incidents_status "
                                "WHERE chat_id = ? AND state != 'closed'", (chat_id,))
    rows = await db.fetchall(
        "SELECT id FROM incidents INDEXED BY incidents_waiting WHERE chat_id = ? AND state != 'closed' "
        "ORDER BY status_waiting IS NULL, status_waiting, id LIMIT ?", (chat_id, limit))
    return (int(counted["n"]) if counted else 0), [int(r["id"]) for r in rows]


_FRESH: weakref.WeakSet[Database] = weakref.WeakSet()  # databases whose keys refresh_status has brought up to date


async def ensure_status(db: Database, profile_of: Callable[[str], Profile]) -> None:
    """Before reading /status's keys: up to date with the profiles of this process. The first call in a process
    runs ``refresh_status`` (at start it runs in the background: this waits for what is left of it, so the first
    /status after migration 8 is late rather than wrong); after it, every save keeps them so."""
    if db not in _FRESH:
        await refresh_status(db, profile_of)


async def refresh_status(db: Database, profile_of: Callable[[str], Profile], batch: int = 1000) -> int:
    """Recompute /status's keys (``write_status``) of the open incidents written under another version of their
    profile, or never (after migration 8): a profile's file is read at start, so this runs at start. Batches
    of ``batch``, one transaction each. Returns how many incidents were recomputed; a profile that cannot be
    read is left as it is (its incidents cannot be shown anyway)."""
    done = 0
    for r in await db.fetchall("SELECT DISTINCT profile FROM incidents WHERE state != 'closed'"):
        try:
            profile = profile_of(r["profile"])
        except Exception:  # a profile file gone or broken: the bot says so where it is used
            continue
        fingerprint = status_fingerprint(profile)
        last = 0
        while True:
            ids = [int(x["id"]) for x in await db.fetchall(
                "SELECT id FROM incidents WHERE profile = ? AND state != 'closed' AND status_of IS NOT ? AND id > ? "
                "ORDER BY id LIMIT ?", (r["profile"], fingerprint, last, batch))]
            if not ids:
                break
            last = ids[-1]
            async with db.transaction() as conn:  # a few statements a batch, not a few an incident
                rows = await load_many(conn, ids)
                values = [_status_values(profile, row.incident) for row in rows.values()]
                await conn.executemany(
                    "UPDATE incidents SET status_due=?, status_late=?, status_waiting=?, status_of=? WHERE id=?",
                    [keys for keys, _deps in values])
                await conn.execute("DELETE FROM status_departments "
                                   "WHERE incident_id IN (SELECT value FROM json_each(?))", (json.dumps(list(rows)),))
                await conn.executemany(_INSERT_DEPARTMENTS, [d for _keys, deps in values for d in deps])
            done += len(ids)
            await asyncio.sleep(0)  # the bot goes on between two batches
    _FRESH.add(db)
    return done


# --- intake drafts and awaited replies ----------------------------------------------------------


async def get_intake(db: Database | aiosqlite.Connection, user_id: int) -> dict[str, Any] | None:
    """Pass the transaction's connection when the draft is read to be changed (album parts race)."""
    conn = db.conn if isinstance(db, Database) else db
    rows = await conn.execute_fetchall("SELECT data FROM intake WHERE user_id=?", (user_id,))
    return json.loads(next(iter(rows))[0]) if rows else None


async def all_intakes(conn: aiosqlite.Connection) -> list[tuple[int, dict[str, Any]]]:
    rows = await conn.execute_fetchall("SELECT user_id, data FROM intake ORDER BY user_id")
    return [(int(r[0]), json.loads(r[1])) for r in rows]


async def put_intake(conn: aiosqlite.Connection, user_id: int, data: dict[str, Any] | None, now: datetime) -> None:
    if data is None:
        await conn.execute("DELETE FROM intake WHERE user_id=?", (user_id,))
    else:
        await conn.execute(
            "INSERT INTO intake(user_id, data, updated_at) VALUES (?,?,?) "
            "ON CONFLICT(user_id) DO UPDATE SET data=excluded.data, updated_at=excluded.updated_at",
            (user_id, json.dumps(data, ensure_ascii=False), to_db(now)))


async def get_awaited(db: Database, user_id: int, chat_id: int) -> dict[str, Any] | None:
    row = await db.fetchone("SELECT data FROM awaited WHERE user_id=? AND chat_id=?", (user_id, chat_id))
    return json.loads(row["data"]) if row else None


async def put_awaited(conn: aiosqlite.Connection, user_id: int, chat_id: int, data: dict[str, Any] | None,
                      now: datetime) -> None:
    """What the bot waits for this person to write next in this chat (a reason, a comment, a text)."""
    if data is None:
        await conn.execute("DELETE FROM awaited WHERE user_id=? AND chat_id=?", (user_id, chat_id))
    else:
        await conn.execute(
            "INSERT INTO awaited(user_id, chat_id, data, created_at) VALUES (?,?,?,?) "
            "ON CONFLICT(user_id, chat_id) DO UPDATE SET data=excluded.data, created_at=excluded.created_at",
            (user_id, chat_id, json.dumps(data, ensure_ascii=False), to_db(now)))


# --- rows -> values ----------------------------------------------------------------------------


def _row(row: Any, timers: list[Any]) -> IncidentRow:
    incident = Incident(
        id=row["id"], track=row["track"], state=State(row["state"]),
        departments=tuple(json.loads(row["departments"])), step=row["step"],
        outcome=Outcome(row["outcome"]) if row["outcome"] else None,
        intermediate_given=bool(row["intermediate_given"]),
        resume_state=State(row["resume_state"]) if row["resume_state"] else None,
        parts_done=frozenset(json.loads(row["parts_done"])),
        parts_accepted=frozenset(json.loads(row["parts_accepted"])),
        event_times={k: from_db(v) for k, v in json.loads(row["event_times"]).items()},  # type: ignore[misc]
        timers=tuple(
            RunningTimer(t["timer_id"], from_db(t["started_at"]), from_db(t["due_at"]),  # type: ignore[arg-type]
                         t["department_id"], from_db(t["paused_at"]), _remaining_py(t["remaining"]))
            for t in timers),
    )
    return IncidentRow(
        incident=incident, chat_id=row["chat_id"], profile=row["profile"], source=row["source"], text=row["text"],
        link=row["link"], origin=json.loads(row["origin"]), draft=json.loads(row["draft"]) if row["draft"] else None,
        final_text=row["final_text"], thread_id=row["thread_id"], card_message_id=row["card_message_id"],
        detected_at=from_db(row["detected_at"]),  # type: ignore[arg-type]
        significant=bool(row["significant"]), outcome_reason=row["outcome_reason"], repeat_of=row["repeat_of"],
        published_link=row["published_link"],
    )


def _remaining_db(value: timedelta | int | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        return f"s:{int(value.total_seconds())}"
    return f"d:{value}"


def _remaining_py(text: str | None) -> timedelta | int | None:
    if not text:
        return None
    kind, _, number = text.partition(":")
    return timedelta(seconds=int(number)) if kind == "s" else int(number)
