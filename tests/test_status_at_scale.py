"""/status in a few queries, whatever the number of open incidents (storage.incidents.open_page): the same text,
to the character, as the straightforward way of loading every open incident and sorting them in Python, kept
here as the reference. What SQL sorts and counts by is written beside each incident by storage.incidents.save
from the core's own rule (bot.workflow.notices.status_keys): the keys stored always equal what the core
computes from the incident as stored, after every change (checked here over random incidents and changes, and
after every step of every scenario: tests/status_keys.py, called by Scenario.settle).

Random incidents over two groups and two profiles, written as the bot writes them (store.insert, store.save):
co-executors' own timers, paused timers, windows, none at all, overdue ones, closed ones; asked by the
coordinator, heads of one or two departments, in each group and privately; one page and many small pages."""

from __future__ import annotations

import contextlib
import json
import random
import sqlite3
from datetime import datetime, timedelta

import pytest

from bot import menus
from bot.clock import FakeClock
from bot.i18n import _
from bot.menus import StatusAsk, next_deadline, status_scope, status_text
from bot.org_file import import_org, read_org_file
from bot.service import Service
from bot.workflow.model import Incident, RunningTimer, State
from profiles.loader import load_profile
from storage import incidents as store
from storage import org
from storage.db import Database, to_db
from storage.migrations import MIGRATIONS
from tests.scenario import ORG_FILE, START
from tests.status_keys import mismatches

G1, G2 = -1000000000001, -1000000000002
COORDINATOR, PETROV, KUZNETSOVA, VOLKOV = 100001, 200001, 200003, 200005
STATES = [State.NEW, State.ASSIGNED, State.REVIEW, State.REWORK, State.APPROVED, State.AWAITING_FINAL,
          State.CLARIFICATION, State.CLOSED]


async def reference_status_text(service: Service, ask: StatusAsk, now: datetime) -> str:
    """/status as it was: every open incident loaded on its own, sorted in Python."""
    db = service.db
    scope = await status_scope(service, ask)
    if isinstance(scope, str):
        return scope
    items = []
    sees_all = any(departments is None for _group, departments in scope)
    for group, mine in scope:
        rows = [row for i in await store.open_incidents(db, group.chat_id)
                if (row := await store.load(db, i)) is not None]
        names = {d.id: d.name for d in await org.all_departments(db, group.chat_id)}
        for row in rows:
            if mine is not None and not mine & set(row.incident.departments):
                continue
            profile = service.profile(row.profile)
            timer = next_deadline(row, profile, mine)
            items.append((timer.due_at if timer else None, row, profile, timer, names if mine is None else None))
    if not items:
        return _("Открытых инцидентов нет.") if sees_all else _("По вашим отделам открытых инцидентов нет.")
    items.sort(key=lambda x: (x[0] is None, x[0] or now, x[1].incident.id))
    late = sum(1 for due, _row, _profile, t, _names in items
               if due is not None and t is not None and t.paused_at is None and due < now)
    title = _("Открытые инциденты") if sees_all else _("Открытые инциденты ваших отделов")
    head = f"<b>{title}: {len(items)}</b>" + (_(" · ⚠️ просрочено: {count}").format(count=late) if late else "")
    blocks = [head]
    size = len(head)
    for shown, (_due, row, profile, timer, names) in enumerate(items):
        block = menus._incident_block(row, profile, timer, names, now)
        if size + len(block) + 2 > menus.STATUS_LIMIT:
            blocks.append(_("… и ещё {count}: полный список — в ежедневной сводке.").format(count=len(items) - shown))
            break
        blocks.append(block)
        size += len(block) + 2
    return "\n\n".join(blocks)


async def organisation(db: Database) -> dict[int, list[int]]:
    """Two groups; Petrov heads two departments of the first and one of the second. The departments of each."""
    await import_org(db, read_org_file(ORG_FILE))
    async with db.transaction():
        await org.bind_group(db, G1, "Изобильный", "izobilny", True, None, START)
        await org.bind_group(db, G2, "Ставрополь", "stavropol", True, None, START)
    async with db.transaction() as conn:
        deps = {G1: [r[0] for r in await conn.execute_fetchall(
            "SELECT id FROM departments WHERE chat_id = ? ORDER BY id", (G1,))], G2: []}
        for code in ("a", "b"):
            cur = await conn.execute("INSERT INTO departments(chat_id, code, name) VALUES (?,?,?)",
                                     (G2, code, f"Отдел {code}"))
            deps[G2].append(cur.lastrowid)
        roads = deps[G1][1]
        for chat, role, dep in ((G1, "executor", roads), (G2, "executor", deps[G2][0]), (G2, "reception", None)):
            await conn.execute("INSERT INTO memberships(user_id, chat_id, role, department_id) VALUES (?,?,?,?)",
                               (COORDINATOR if role == "reception" else PETROV, chat, role, dep))
    return deps


def random_incident(rng: random.Random, incident_id: int, profile_name: str, deps: list[int]) -> Incident:
    profile = load_profile(profile_name)
    track = rng.choice(list(profile.tracks))
    chosen = tuple(rng.sample(deps, rng.choice([0, 1, 1, 1, 2])))
    timers: dict[tuple[str, int | None], RunningTimer] = {}
    specs = profile.timers_for(track)
    for _k in range(rng.choice([0, 1, 2, 3, 4])):
        spec = rng.choice(specs)
        due = START + timedelta(minutes=rng.randrange(-600, 600))
        if rng.random() < 0.2:  # ties on the same deadline
            due = START + timedelta(hours=1)
        dep = rng.choice(chosen) if chosen and rng.random() < 0.4 else (rng.choice(deps) if rng.random() < 0.05
                                                                           else None)
        paused = START - timedelta(minutes=5) if rng.random() < 0.2 else None
        t = RunningTimer(spec.id, START - timedelta(hours=rng.randrange(1, 48)), due, dep, paused,
                         timedelta(minutes=10) if paused else None)
        timers[t.key] = t
    return Incident(id=incident_id, track=track, state=rng.choice(STATES), departments=chosen,
                    step=rng.choice([0, 0, 1]), timers=tuple(timers.values()))


async def build(db: Database, seed: int, n: int) -> dict[int, list[int]]:
    """``n`` random incidents, written as the bot writes them."""
    deps = await organisation(db)
    rng = random.Random(seed)
    async with db.transaction() as conn:
        for i in range(1, n + 1):
            chat = G1 if rng.random() < 0.6 else G2
            # an incident of the other profile in a group now bound to another one
            name = ("izobilny" if chat == G1 else "stavropol") if rng.random() < 0.85 else \
                ("stavropol" if chat == G1 else "izobilny")
            incident = random_incident(rng, i, name, deps[chat])
            created = START - timedelta(hours=rng.randrange(0, 72))
            await store.insert(conn, Incident(i, incident.track), chat_id=chat, profile=name, source="vk",
                               text=f"Сообщение {i} " + "о яме во дворе " * rng.randrange(0, 8),
                               link=f"https://vk.com/wall-1_{i}" if rng.random() < 0.5 else None, origin={},
                               detected_at=created, created_by=COORDINATOR, now=created)
            await store.save(conn, load_profile(name), incident, created)
            if rng.random() < 0.7:
                await conn.execute("UPDATE incidents SET thread_id = ? WHERE id = ?", (1000 + i, i))
    return deps


async def shake(db: Database, seed: int, deps: dict[int, list[int]], times: int = 150) -> None:
    """What the bot does to incidents, at random, through store.save: states, departments and timers change,
    incidents close and reopen."""
    rng = random.Random(seed)
    ids = [int(r["id"]) for r in await db.fetchall("SELECT id FROM incidents")]
    for _step in range(times):
        i = rng.choice(ids)
        async with db.transaction() as conn:
            row = await store.load(conn, i)
            assert row is not None
            fresh = random_incident(rng, i, row.profile, deps[row.chat_id])
            if rng.random() < 0.5:  # only some of it changes
                fresh = Incident(i, row.incident.track, rng.choice(STATES), row.incident.departments,
                                 timers=row.incident.timers[:rng.randrange(0, len(row.incident.timers) + 1)])
            else:
                fresh = Incident(i, row.incident.track, fresh.state, fresh.departments, fresh.step,
                                 timers=tuple(t for t in fresh.timers
                                              if t.timer_id in {s.id for s in
                                                                load_profile(row.profile).timers_for(row.incident.track)}))
            await store.save(conn, load_profile(row.profile), fresh, START)


ASKS = [StatusAsk(COORDINATOR, G1, False), StatusAsk(COORDINATOR, G2, False), StatusAsk(COORDINATOR, COORDINATOR, True),
        StatusAsk(PETROV, G1, False), StatusAsk(PETROV, G2, False), StatusAsk(PETROV, PETROV, True),
        StatusAsk(KUZNETSOVA, KUZNETSOVA, True), StatusAsk(VOLKOV, G1, False), StatusAsk(999, 999, True)]


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_status_reads_what_it_shows_and_says_what_it_said(tmp_path, monkeypatch, seed):
    db = await Database.open(tmp_path / "bot.sqlite3")
    try:
        deps = await build(db, seed, 300)
        service = Service(db, FakeClock(START))
        for round_ in range(3):
            assert await mismatches(db) == []
            for now in (START, START + timedelta(hours=3), START + timedelta(seconds=3600, microseconds=5)):
                for ask in ASKS:
                    assert await status_text(service, ask, now) == await reference_status_text(service, ask, now), ask
            with monkeypatch.context() as m:  # many small pages; and a message with room for every incident
                m.setattr(menus, "STATUS_PAGE", 2)
                for ask in ASKS[:6]:
                    assert await status_text(service, ask, START) == await reference_status_text(service, ask, START)
                m.setattr(menus, "STATUS_LIMIT", 10**6)
                for ask in ASKS[:6]:
                    assert await status_text(service, ask, START) == await reference_status_text(service, ask, START)
            await shake(db, seed * 10 + round_, deps)
    finally:
        await db.close()


async def test_status_costs_the_same_few_queries_at_any_size(tmp_path):
    counts = []
    for n in (40, 400):
        db = await Database.open(tmp_path / f"bot{n}.sqlite3")
        try:
            await build(db, 7, n)
            service = Service(db, FakeClock(START))
            statements: list[str] = []
            await db.conn.set_trace_callback(statements.append)
            for ask in (StatusAsk(COORDINATOR, G1, False), StatusAsk(PETROV, PETROV, True)):
                await status_text(service, ask, START)
            await db.conn.set_trace_callback(None)
            counts.append(len(statements))
        finally:
            await db.close()
    assert counts[0] == counts[1] < 40, counts


async def test_keys_are_recomputed_at_start_where_a_profile_changed(tmp_path):
    db = await Database.open(tmp_path / "bot.sqlite3")
    try:
        await build(db, 4, 120)
        assert await store.refresh_status(db, load_profile) == 0  # written by save: nothing to do
        # as if written under another version of the profile: wrong keys, another fingerprint
        async with db.transaction() as conn:
            await conn.execute("UPDATE incidents SET status_due = '2000-01-01T00:00:00+00:00', status_late = NULL, "
                               "status_of = 'old' WHERE profile = 'izobilny' AND state != 'closed'")
            await conn.execute("UPDATE status_departments SET due = NULL, his_due = NULL")
        assert await mismatches(db) != []
        recomputed = await store.refresh_status(db, load_profile, batch=7)
        open_izobilny = await db.fetchone(
            "SELECT COUNT(*) AS n FROM incidents WHERE profile = 'izobilny' AND state != 'closed'")
        assert open_izobilny is not None and recomputed == open_izobilny["n"] > 10
        spoiled = await mismatches(db)  # the departments' rows of stavropol's incidents were spoiled too
        assert spoiled and all("departments" in m for m in spoiled)
        async with db.transaction() as conn:
            await conn.execute("UPDATE incidents SET status_of = NULL")
        await store.refresh_status(db, load_profile)
        assert await mismatches(db) == []
        assert await store.refresh_status(db, load_profile) == 0
    finally:
        await db.close()


def as_version_7(source, target) -> None:
    """``target``: a database of schema 7 (MIGRATIONS[:7]) holding the rows of ``source``, as the bot left it
    before migration 8."""
    with contextlib.closing(sqlite3.connect(target)) as conn:
        for script in MIGRATIONS[:7]:
            conn.executescript(script)
        conn.execute("PRAGMA user_version = 7")
        conn.execute("ATTACH DATABASE ? AS source", (str(source),))
        tables = [r[0] for r in conn.execute("SELECT name FROM main.sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = ", ".join(r[1] for r in conn.execute(f"PRAGMA main.table_info({table})"))
            conn.execute(f"INSERT INTO main.{table} ({columns}) SELECT {columns} FROM source.{table}")
        conn.commit()


async def test_migration_8_fills_the_keys_of_incidents_written_before_it(tmp_path):
    db = await Database.open(tmp_path / "now.sqlite3")
    try:
        await build(db, 5, 80)
        before = [tuple(r) for r in await db.fetchall(
            "SELECT id, status_due, status_late, status_waiting FROM incidents ORDER BY id")]
        departments = [tuple(r) for r in await db.fetchall("SELECT * FROM status_departments ORDER BY 1, 2")]
    finally:
        await db.close()
    as_version_7(tmp_path / "now.sqlite3", tmp_path / "bot.sqlite3")
    db = await Database.open(tmp_path / "bot.sqlite3")
    try:
        assert await mismatches(db) != []  # the keys are not there yet
        service = Service(db, FakeClock(START))  # the first /status computes what the start has not yet
        for ask in ASKS:
            assert await status_text(service, ask, START) == await reference_status_text(service, ask, START), ask
        assert await mismatches(db) == []
        assert await store.refresh_status(db, load_profile) == 0
        rows = await db.fetchall("SELECT id, status_due, status_late, status_waiting FROM incidents ORDER BY id")
        assert [tuple(r) for r in rows] == before
        assert [tuple(r) for r in await db.fetchall("SELECT * FROM status_departments ORDER BY 1, 2")] == departments
    finally:
        await db.close()


def test_the_keys_follow_the_core_rule_for_heads():
    """A head's deadline: his running answering timers, his own or (without a department) the lead's; else the
    step the incident waits for; a window never."""
    from bot.workflow.notices import department_timer, status_keys, status_timer

    profile = load_profile("stavropol")
    t = START + timedelta(hours=1)
    incident = Incident(1, "standard", State.ASSIGNED, (11, 12), timers=(
        RunningTimer("draft", START, t + timedelta(hours=2)),  # the lead's (executor)
        RunningTimer("part", START, t, 12),  # the co-executor's own
        RunningTimer("return_window", START, t - timedelta(minutes=30), 12),  # a window: never
        RunningTimer("answer", START, t + timedelta(hours=5)),  # reception's
    ))
    assert department_timer(profile, incident, 11).timer_id == "draft"  # type: ignore[union-attr]
    assert department_timer(profile, incident, 12).timer_id == "part"  # type: ignore[union-attr]
    assert status_timer(profile, incident, {11, 12}).timer_id == "part"  # type: ignore[union-attr]
    assert status_timer(profile, incident, {13}) == status_timer(profile, incident)
    keys = status_keys(profile, incident)
    assert keys.departments == ((11, True, t + timedelta(hours=2)), (12, True, t))
    assert json.dumps([to_db(keys.due), to_db(keys.late_from)]) == json.dumps([to_db(keys.due)] * 2)
