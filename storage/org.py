"""The organisations: the groups the bot is bound to, and each group's departments, people and roles.

An organisation is a bound group: its departments and memberships carry its ``chat_id``, and every
query here is asked for one group, so nothing leaks between groups. A person (a Telegram user) is shared:
one official may hold roles in two groups. An ``admin`` membership without a group is bot-wide.
Rows with ``chat_id`` NULL otherwise are an organisation imported before any group was bound: the first
/bind adopts them.

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


ADMIN_ROLE = "admin"  # built in: manages the organisation (/admin, /bind); not a role of any profile


@dataclass(frozen=True)
class Group:
    chat_id: int
    title: str
    profile: str
    is_forum: bool
    bound_by: int | None
    bound_at: datetime


# --- departments ------------------------------------------------------------------------------


async def upsert_department(db: Database, chat_id: int | None, code: str, name: str,
                            territorial: bool) -> tuple[int, str]:
    """Create or update (and un-archive) the group's department with this code: (id, 'added'|'updated'|'same')."""
    row = await db.fetchone("SELECT id, name, territorial, archived FROM departments "
                            "WHERE chat_id IS ? AND code = ?", (chat_id, code))
    if row is None:
        cursor = await db.conn.execute(
            "INSERT INTO departments (chat_id, code, name, territorial, archived) VALUES (?, ?, ?, ?, 0)",
            (chat_id, code, name, int(territorial)))
        return int(cursor.lastrowid or 0), "added"
    if (row["name"], bool(row["territorial"]), bool(row["archived"])) == (name, territorial, False):
        return row["id"], "same"
    await db.conn.execute("UPDATE departments SET name = ?, territorial = ?, archived = 0 WHERE id = ?",
                          (name, int(territorial), row["id"]))
    return row["id"], "updated"


async def add_department(db: Database, chat_id: int, name: str, territorial: bool = False) -> int:
    """A new department made in chat (/admin): its code is generated, as nobody types one there."""
    row = await db.fetchone("SELECT COUNT(*) AS n FROM departments WHERE chat_id IS ?", (chat_id,))
    n = (row["n"] if row else 0) + 1
    while await db.fetchone("SELECT 1 FROM departments WHERE chat_id IS ? AND code = ?", (chat_id, f"d{n}")):
        n += 1
    department_id, _ = await upsert_department(db, chat_id, f"d{n}", name, territorial)
    return department_id


async def update_department(db: Database, department_id: int, *, name: str | None = None,
                            territorial: bool | None = None, archived: bool | None = None) -> None:
    """Changes what is given; None leaves it as it is."""
    def flag(value: bool | None) -> int | None:
        return None if value is None else int(value)

    await db.conn.execute(
        "UPDATE departments SET name = COALESCE(?, name), territorial = COALESCE(?, territorial), "
        "archived = COALESCE(?, archived) WHERE id = ?", (name, flag(territorial), flag(archived), department_id))


async def archive_departments_except(db: Database, chat_id: int | None, keep_codes: Iterable[str]) -> list[Department]:
    """Archive every active department of the group whose code is not kept; returns those archived now."""
    keep = set(keep_codes)
    gone = [d for d in await active_departments(db, chat_id) if d.code not in keep]
    for d in gone:
        await db.conn.execute("UPDATE departments SET archived = 1 WHERE id = ?", (d.id,))
    return gone


async def active_departments(db: Database, chat_id: int | None) -> list[Department]:
    rows = await db.fetchall("SELECT * FROM departments WHERE chat_id IS ? AND archived = 0 ORDER BY name, id",
                             (chat_id,))
    return [_department(r) for r in rows]


async def all_departments(db: Database, chat_id: int | None) -> list[Department]:
    """Active first, then archived (the admin panel lists both)."""
    rows = await db.fetchall("SELECT * FROM departments WHERE chat_id IS ? ORDER BY archived, name, id", (chat_id,))
    return [_department(r) for r in rows]


async def department(db: Database, department_id: int) -> Department | None:
    """A department by id, archived or not (old incidents name archived ones)."""
    row = await db.fetchone("SELECT * FROM departments WHERE id = ?", (department_id,))
    return None if row is None else _department(row)


async def department_in(db: Database, chat_id: int, department_id: int) -> Department | None:
    """The department if it belongs to the group: ids from a button are checked against the group."""
    row = await db.fetchone("SELECT * FROM departments WHERE id = ? AND chat_id = ?", (department_id, chat_id))
    return None if row is None else _department(row)


async def department_by_code(db: Database, chat_id: int | None, code: str) -> Department | None:
    row = await db.fetchone("SELECT * FROM departments WHERE chat_id IS ? AND code = ?", (chat_id, code))
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


async def add_person(db: Database, person: Person) -> None:
    """Someone joining by an invite: added under his Telegram name. One already known (the organisation file,
    an earlier invite) keeps the name he has, so each person is named one way; his username follows Telegram."""
    await db.conn.execute(
        "INSERT INTO people (user_id, name, username) VALUES (?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
        "username = COALESCE(excluded.username, username)", (person.user_id, person.name, person.username))


async def person(db: Database, user_id: int) -> Person | None:
    row = await db.fetchone("SELECT user_id, name, username FROM people WHERE user_id = ?", (user_id,))
    return None if row is None else Person(row["user_id"], row["name"], row["username"])


async def people_ids(db: Database) -> list[int]:
    """Everyone the bot has known, with roles or without."""
    return [r["user_id"] for r in await db.fetchall("SELECT user_id FROM people ORDER BY user_id")]


async def language(db: Database, user_id: int) -> str | None:
    row = await db.fetchone("SELECT language FROM people WHERE user_id = ?", (user_id,))
    return row["language"] if row else None


async def set_language(db: Database, user_id: int, name: str, language: str | None) -> None:
    await db.conn.execute(
        "INSERT INTO people (user_id, name, language) VALUES (?, ?, ?) "
        "ON CONFLICT (user_id) DO UPDATE SET language = excluded.language", (user_id, name, language))


# --- memberships ------------------------------------------------------------------------------


async def memberships(db: Database, chat_id: int | None) -> set[Membership]:
    """The group's memberships (the bot-wide admins are not the group's)."""
    rows = await db.fetchall("SELECT user_id, role, department_id FROM memberships WHERE chat_id IS ?", (chat_id,))
    return {Membership(r["user_id"], r["role"], r["department_id"]) for r in rows}


async def set_memberships(db: Database, chat_id: int | None,
                          wanted: Iterable[Membership]) -> tuple[set[Membership], set[Membership]]:
    """Make the group's memberships exactly ``wanted``: returns (added, removed). People must exist."""
    target = set(wanted)
    current = await memberships(db, chat_id)
    removed, added = current - target, target - current
    for m in removed:
        await remove_membership(db, chat_id, m)
    for m in sorted(added, key=lambda m: (m.user_id, m.role, m.department_id or 0)):
        await add_membership(db, chat_id, m)
    return added, removed


async def add_membership(db: Database, chat_id: int | None, m: Membership) -> bool:
    """False when the person already has it."""
    cursor = await db.conn.execute(
        "INSERT OR IGNORE INTO memberships (user_id, chat_id, role, department_id) VALUES (?, ?, ?, ?)",
        (m.user_id, chat_id, m.role, m.department_id))
    return cursor.rowcount > 0


async def remove_membership(db: Database, chat_id: int | None, m: Membership) -> None:
    await db.conn.execute(
        "DELETE FROM memberships WHERE user_id = ? AND chat_id IS ? AND role = ? AND department_id IS ?",
        (m.user_id, chat_id, m.role, m.department_id))


async def remove_from_group(db: Database, chat_id: int, user_id: int) -> int:
    """Every role the person holds in the group, gone at once; returns how many."""
    cursor = await db.conn.execute("DELETE FROM memberships WHERE chat_id = ? AND user_id = ?", (chat_id, user_id))
    return cursor.rowcount


async def memberships_of(db: Database, chat_id: int, user_id: int) -> list[Membership]:
    """The person's memberships in the group (not the bot-wide admin role)."""
    rows = await db.fetchall("SELECT user_id, role, department_id FROM memberships WHERE chat_id = ? AND user_id = ?",
                             (chat_id, user_id))
    return [Membership(r["user_id"], r["role"], r["department_id"]) for r in rows]


async def roles_of(db: Database, user_id: int, chat_id: int | None) -> frozenset[str]:
    """Role names the user holds in the group — profile roles (coordinator, executor…) and 'admin' —
    and the bot-wide admin role. Heads of archived departments hold nothing through them."""
    rows = await db.fetchall(
        "SELECT DISTINCT m.role FROM memberships m LEFT JOIN departments d ON d.id = m.department_id "
        "WHERE m.user_id = ? AND (m.chat_id IS ? OR (m.chat_id IS NULL AND m.role = ?)) "
        "AND (m.department_id IS NULL OR d.archived = 0)", (user_id, chat_id, ADMIN_ROLE))
    return frozenset(r["role"] for r in rows)


async def standing(db: Database, user_id: int, chat_id: int, now: datetime) -> list[tuple[str, int | None, bool]]:
    """In one query, what ``roles_of`` and ``departments_headed_by`` say of the user and of everyone he stands
    in for in the group now (absences): (role, the group's department it is held in or None, his own?)."""
    rows = await db.fetchall(
        """WITH who(user_id, own) AS (
               SELECT ?, 1 UNION SELECT user_id, 0 FROM absences WHERE chat_id = ? AND substitute_id = ? AND until > ?)
           SELECT DISTINCT m.role, CASE WHEN m.chat_id IS ? THEN m.department_id END AS department_id, who.own
           FROM who JOIN memberships m ON m.user_id = who.user_id LEFT JOIN departments d ON d.id = m.department_id
           WHERE (m.chat_id IS ? OR (m.chat_id IS NULL AND m.role = ?))
             AND (m.department_id IS NULL OR d.archived = 0)""",
        (user_id, chat_id, user_id, to_db(now), chat_id, chat_id, ADMIN_ROLE))
    return [(r["role"], r["department_id"], bool(r["own"])) for r in rows]


async def is_bot_admin(db: Database, user_id: int) -> bool:
    """An admin of the whole bot (not of one group): binds groups, sees every organisation."""
    row = await db.fetchone("SELECT 1 FROM memberships WHERE user_id = ? AND chat_id IS NULL AND role = ?",
                            (user_id, ADMIN_ROLE))
    return row is not None


async def any_admin(db: Database) -> bool:
    return await db.fetchone("SELECT 1 FROM memberships WHERE role = ? LIMIT 1", (ADMIN_ROLE,)) is not None


async def departments_headed_by(db: Database, user_id: int, chat_id: int | None) -> frozenset[int]:
    """Ids of the group's active departments the user heads."""
    rows = await db.fetchall(
        "SELECT DISTINCT m.department_id FROM memberships m JOIN departments d ON d.id = m.department_id "
        "WHERE m.user_id = ? AND m.chat_id IS ? AND d.archived = 0", (user_id, chat_id))
    return frozenset(r["department_id"] for r in rows)


async def heads_of(db: Database, department_id: int) -> list[Person]:
    """The heads of a department (whom to mention when an incident is routed there), by name."""
    rows = await db.fetchall(
        "SELECT DISTINCT p.user_id, p.name, p.username FROM memberships m JOIN people p ON p.user_id = m.user_id "
        "WHERE m.department_id = ? ORDER BY p.name, p.user_id", (department_id,))
    return [Person(r["user_id"], r["name"], r["username"]) for r in rows]


async def people_with_role(db: Database, role: str, chat_id: int | None) -> list[Person]:
    """Everyone holding the role in the group, organisation-wide or in an active department, by name."""
    rows = await db.fetchall(
        "SELECT DISTINCT p.user_id, p.name, p.username FROM memberships m "
        "JOIN people p ON p.user_id = m.user_id LEFT JOIN departments d ON d.id = m.department_id "
        "WHERE m.role = ? AND m.chat_id IS ? AND (m.department_id IS NULL OR d.archived = 0) "
        "ORDER BY p.name, p.user_id", (role, chat_id))
    return [Person(r["user_id"], r["name"], r["username"]) for r in rows]


async def people_in(db: Database, chat_id: int) -> list[tuple[Person, list[Membership]]]:
    """The group's people with their memberships, by name (the admin panel's list)."""
    rows = await db.fetchall(
        "SELECT p.user_id, p.name, p.username, m.role, m.department_id FROM memberships m "
        "JOIN people p ON p.user_id = m.user_id WHERE m.chat_id = ? ORDER BY p.name, p.user_id, m.role", (chat_id,))
    out: dict[int, tuple[Person, list[Membership]]] = {}
    for r in rows:
        entry = out.setdefault(r["user_id"], (Person(r["user_id"], r["name"], r["username"]), []))
        entry[1].append(Membership(r["user_id"], r["role"], r["department_id"]))
    return list(out.values())


# --- groups -----------------------------------------------------------------------------------


async def bind_group(db: Database, chat_id: int, title: str, profile: str, is_forum: bool,
                     bound_by: int | None, now: datetime) -> Group | None:
    """Bind (or re-bind) a chat to a profile; returns the previous binding, if any. The first group bound
    adopts an organisation imported before any group existed."""
    previous = await group(db, chat_id)
    await db.conn.execute(
        "INSERT INTO groups (chat_id, title, profile, is_forum, bound_by, bound_at) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (chat_id) DO UPDATE SET title = excluded.title, profile = excluded.profile, "
        "is_forum = excluded.is_forum, bound_by = excluded.bound_by, bound_at = excluded.bound_at",
        (chat_id, title, profile, int(is_forum), bound_by, to_db(now)))
    await db.conn.execute("UPDATE departments SET chat_id = ? WHERE chat_id IS NULL", (chat_id,))
    await db.conn.execute("UPDATE memberships SET chat_id = ? WHERE chat_id IS NULL AND role != ?",
                          (chat_id, ADMIN_ROLE))
    return previous


async def group(db: Database, chat_id: int) -> Group | None:
    row = await db.fetchone("SELECT * FROM groups WHERE chat_id = ?", (chat_id,))
    return None if row is None else _group(row)


async def groups(db: Database) -> list[Group]:
    return [_group(r) for r in await db.fetchall("SELECT * FROM groups ORDER BY chat_id")]


async def groups_of(db: Database, user_id: int) -> list[Group]:
    """The groups where the user holds a role, by title."""
    rows = await db.fetchall(
        "SELECT DISTINCT g.* FROM groups g JOIN memberships m ON m.chat_id = g.chat_id WHERE m.user_id = ? "
        "ORDER BY g.title, g.chat_id", (user_id,))
    return [_group(r) for r in rows]


def _group(row: sqlite3.Row) -> Group:
    bound_at = from_db(row["bound_at"])
    assert bound_at is not None
    return Group(row["chat_id"], row["title"], row["profile"], bool(row["is_forum"]), row["bound_by"], bound_at)
