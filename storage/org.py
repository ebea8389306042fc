"""The organisation: departments, people, their roles, and the groups the bot is bound to.

The only SQL for these tables. Writers run inside the caller's transaction (``async with db.transaction()``)
so that one use case — an org import, a /bind — is all or nothing. A department is never deleted (incidents
keep its id): it is archived. A person's row stays for history; what he may do is his memberships.
A membership with a department is a head's; one without is an organisation-wide role (coordinator, admin…).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from storage.db import Database, from_db, to_db


class Person(NamedTuple):
    user_id: int
    name: str
    username: str | None = None


class Department(NamedTuple):
    id: int
    code: str
    name: str
    territorial: bool
    archived: bool


class Membership(NamedTuple):
    user_id: int
    role: str
    department_id: int | None = None


@dataclass(frozen=True)
class Group:
    chat_id: int
    title: str
    profile: str
    is_forum: bool
    bound_by: int | None
    bound_at: datetime


# --- departments ------------------------------------------------------------------------------


async def upsert_department(db: Database, code: str, name: str, territorial: bool) -> tuple[int, str]:
    """Create or update (and un-archive) the department with this code: (its id, 'added'|'updated'|'same')."""
    row = await db.fetchone("SELECT id, name, territorial, archived FROM departments WHERE code = ?", (code,))
    if row is None:
        cursor = await db.conn.execute(
            "INSERT INTO departments (code, name, territorial, archived) VALUES (?, ?, ?, 0)",
            (code, name, int(territorial)))
        return int(cursor.lastrowid or 0), "added"
    if (row["name"], bool(row["territorial"]), bool(row["archived"])) == (name, territorial, False):
        return row["id"], "same"
    await db.conn.execute("UPDATE departments SET name = ?, territorial = ?, archived = 0 WHERE id = ?",
                          (name, int(territorial), row["id"]))
    return row["id"], "updated"


async def archive_departments_except(db: Database, keep_codes: Iterable[str]) -> list[Department]:
    """Archive every active department whose code is not kept; returns those archived now."""
    keep = set(keep_codes)
    gone = [d for d in await active_departments(db) if d.code not in keep]
    for d in gone:
        await db.conn.execute("UPDATE departments SET archived = 1 WHERE id = ?", (d.id,))
    return gone


async def active_departments(db: Database) -> list[Department]:
    rows = await db.fetchall("SELECT * FROM departments WHERE archived = 0 ORDER BY name, id")
    return [_department(r) for r in rows]


async def department(db: Database, department_id: int) -> Department | None:
    """A department by id, archived or not (old incidents name archived ones)."""
    row = await db.fetchone("SELECT * FROM departments WHERE id = ?", (department_id,))
    return None if row is None else _department(row)


async def department_by_code(db: Database, code: str) -> Department | None:
    row = await db.fetchone("SELECT * FROM departments WHERE code = ?", (code,))
    return None if row is None else _department(row)


def _department(row: sqlite3.Row) -> Department:
    return Department(row["id"], row["code"], row["name"], bool(row["territorial"]), bool(row["archived"]))


# --- people -----------------------------------------------------------------------------------


async def upsert_person(db: Database, person: Person) -> str:
    """Create or update a person by Telegram user id: 'added', 'updated' or 'same'."""
    row = await db.fetchone("SELECT name, username FROM people WHERE user_id = ?", (person.user_id,))
    if row is None:
        await db.conn.execute("INSERT INTO people (user_id, name, username) VALUES (?, ?, ?)",
                              (person.user_id, person.name, person.username))
        return "added"
    if (row["name"], row["username"]) == (person.name, person.username):
        return "same"
    await db.conn.execute("UPDATE people SET name = ?, username = ? WHERE user_id = ?",
                          (person.name, person.username, person.user_id))
    return "updated"


async def person(db: Database, user_id: int) -> Person | None:
    row = await db.fetchone("SELECT user_id, name, username FROM people WHERE user_id = ?", (user_id,))
    return None if row is None else Person(row["user_id"], row["name"], row["username"])


# --- memberships ------------------------------------------------------------------------------


async def memberships(db: Database) -> set[Membership]:
    rows = await db.fetchall("SELECT user_id, role, department_id FROM memberships")
    return {Membership(r["user_id"], r["role"], r["department_id"]) for r in rows}


async def set_memberships(db: Database, wanted: Iterable[Membership]) -> tuple[set[Membership], set[Membership]]:
    """Make the memberships table exactly ``wanted``: returns (added, removed). People must exist."""
    target = set(wanted)
    current = await memberships(db)
    removed, added = current - target, target - current
    for m in removed:
        await db.conn.execute(
            "DELETE FROM memberships WHERE user_id = ? AND role = ? AND department_id IS ?",
            (m.user_id, m.role, m.department_id))
    for m in sorted(added, key=lambda m: (m.user_id, m.role, m.department_id or 0)):
        await db.conn.execute("INSERT INTO memberships (user_id, role, department_id) VALUES (?, ?, ?)",
                              (m.user_id, m.role, m.department_id))
    return added, removed


async def roles_of(db: Database, user_id: int) -> frozenset[str]:
    """Role names the user holds: profile roles (coordinator, executor…) and the built-in 'admin'."""
    rows = await db.fetchall(
        "SELECT DISTINCT m.role FROM memberships m LEFT JOIN departments d ON d.id = m.department_id "
        "WHERE m.user_id = ? AND (m.department_id IS NULL OR d.archived = 0)", (user_id,))
    return frozenset(r["role"] for r in rows)


async def departments_headed_by(db: Database, user_id: int) -> frozenset[int]:
    """Ids of the active departments the user heads."""
    rows = await db.fetchall(
        "SELECT DISTINCT m.department_id FROM memberships m JOIN departments d ON d.id = m.department_id "
        "WHERE m.user_id = ? AND d.archived = 0", (user_id,))
    return frozenset(r["department_id"] for r in rows)


async def heads_of(db: Database, department_id: int) -> list[Person]:
    """The heads of a department (whom to mention when an incident is routed there), by name."""
    rows = await db.fetchall(
        "SELECT DISTINCT p.user_id, p.name, p.username FROM memberships m JOIN people p ON p.user_id = m.user_id "
        "WHERE m.department_id = ? ORDER BY p.name, p.user_id", (department_id,))
    return [Person(r["user_id"], r["name"], r["username"]) for r in rows]


async def people_with_role(db: Database, role: str) -> list[Person]:
    """Everyone holding the role, organisation-wide or in an active department, by name."""
    rows = await db.fetchall(
        "SELECT DISTINCT p.user_id, p.name, p.username FROM memberships m "
        "JOIN people p ON p.user_id = m.user_id LEFT JOIN departments d ON d.id = m.department_id "
        "WHERE m.role = ? AND (m.department_id IS NULL OR d.archived = 0) ORDER BY p.name, p.user_id", (role,))
    return [Person(r["user_id"], r["name"], r["username"]) for r in rows]


# --- groups -----------------------------------------------------------------------------------


async def bind_group(db: Database, chat_id: int, title: str, profile: str, is_forum: bool,
                     bound_by: int | None, now: datetime) -> Group | None:
    """Bind (or re-bind) a chat to a profile; returns the previous binding, if any."""
    previous = await group(db, chat_id)
    await db.conn.execute(
        "INSERT INTO groups (chat_id, title, profile, is_forum, bound_by, bound_at) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (chat_id) DO UPDATE SET title = excluded.title, profile = excluded.profile, "
        "is_forum = excluded.is_forum, bound_by = excluded.bound_by, bound_at = excluded.bound_at",
        (chat_id, title, profile, int(is_forum), bound_by, to_db(now)))
    return previous


async def group(db: Database, chat_id: int) -> Group | None:
    row = await db.fetchone("SELECT * FROM groups WHERE chat_id = ?", (chat_id,))
    return None if row is None else _group(row)


async def home_group(db: Database) -> Group | None:
    """The group private-chat work goes to (intake, /report, /help): the first bound. Several groups with
    their own organisations are not built yet; this is the one place that rule lives."""
    row = await db.fetchone("SELECT * FROM groups ORDER BY chat_id LIMIT 1")
    return None if row is None else _group(row)


async def groups(db: Database) -> list[Group]:
    return [_group(r) for r in await db.fetchall("SELECT * FROM groups ORDER BY chat_id")]


def _group(row: sqlite3.Row) -> Group:
    bound_at = from_db(row["bound_at"])
    assert bound_at is not None
    return Group(row["chat_id"], row["title"], row["profile"], bool(row["is_forum"]), row["bound_by"], bound_at)
