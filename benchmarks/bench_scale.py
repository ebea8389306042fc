"""Issue 11, data at scale: start and memory at 10k open incidents, /status at 10k/100k, the outbox's bytes per
incident, migration 8's one-time cost. A script that prints figures, not a test.

    python benchmarks/bench_scale.py --workdir /tmp/bench-scale            # everything (seeded databases kept)
    python benchmarks/bench_scale.py --only status --sizes 10000 100000 --old
    python benchmarks/bench_scale.py --only start --start-size 10000 --starts 5
    python benchmarks/bench_scale.py --only outbox --incidents 5

The sections are also imported by benchmarks/bench_issue11.py: ``section_start``, ``section_status`` and
``section_outbox`` each take (workdir, args) and return rows (metric, figure, goal, "ok" / "not ok" / "").

1. Start and memory. A database seeded with ``--start-size`` (10 000) open incidents; ``python -m bot`` is
   spawned against the Bot API emulator (package emulator/, a real HTTP server in this process). Measured
   from just before the spawn to the first getUpdates reaching the emulator; then the coordinator sends
   /status and the bot answers (so the figure includes serving the heaviest read); then the bot's peak
   resident set (VmHWM, read from /proc before it is stopped). Median of ``--starts`` (5) spawns, each on a
   fresh copy. ``--code DIR`` runs the bot from another checkout (e.g. main, for the figures before).
2. /status. Databases of ``--sizes`` open incidents (10 000 and 100 000), seeded through the storage functions
   the bot uses (the core opens and routes each one, storage.incidents writes it with its /status keys, its
   topic, card and copies go through the outbox and are marked delivered with Telegram-like answers; the
   database is cached in --workdir). ``status_text`` for the coordinator (every open incident) and for a head
   (his department's): the median of 5 calls after one warm call, and the number of SQL statements. ``--old``
   also times the former way (each incident loaded on its own, kept by tests/test_status_at_scale.py) at the
   smallest size. Then migration 8's one-time cost on that database: taken back to schema 7, opened (the
   migration's SQL) and its keys computed (storage.incidents.refresh_status, what the bot does at start).
3. The outbox. ``--incidents`` (5) incidents through the whole standard path with the real bot against the
   emulator (tests/scenario.py); the bytes of payloads and answers delivered calls keep per incident, before
   and after storage.retention.prune_delivered (each chat's latest 20 calls stay whole: a constant, left out
   of the per-incident figure after pruning).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import (  # noqa: E402  (benchmarks/)
    COORDINATOR,
    ORG_FILE,
    ZHKH_HEAD,
    Row,
    cpu_seconds,
    fresh_database,
    load_average,
    peak_mb,
    print_table,
    run_folder,
    stop,
    wait,
)

import bot  # noqa: E402, F401  — first, as in production: aiogram's schemas deferred (bot/lazy_aiogram.py)
from bot.clock import SystemClock  # noqa: E402
from bot.context import notice_plan  # noqa: E402
from bot.menus import StatusAsk, status_text  # noqa: E402
from bot.org_file import import_org, read_org_file  # noqa: E402
from bot.service import Service  # noqa: E402
from bot.workflow import Actor, Route, decide, open_incident  # noqa: E402
from emulator import TelegramEmulator  # noqa: E402
from profiles.loader import load_profile  # noqa: E402
from storage import incidents as store  # noqa: E402
from storage import org  # noqa: E402
from storage import outbox as out  # noqa: E402
from storage.db import Connection, Database, to_db  # noqa: E402
from storage.retention import prune_delivered  # noqa: E402

GOAL_START = 2.0  # s, start to first getUpdates
GOAL_MEMORY = 120.0  # MB, peak RSS at 10k open incidents
GOAL_STATUS = 0.2  # s at 100k open incidents

PROFILE = "izobilny"
GROUP = -1001000000001
SOURCES = [("vk", "https://vk.com/wall-1_{}"), ("ok", "https://ok.ru/group/1/topic/{}"),
           ("incident", "https://pos.gosuslugi.ru/landing/{}")]
TEXT = ("Жители дома по ул. Ленина, {0} жалуются: третий день не вывозят мусор, контейнерная площадка "
        "переполнена, просят принять меры и сообщить сроки. {1}")


# --- seeding through the storage functions ----------------------------------------------------------------


async def seed(path: Path, n: int, now: datetime, group: int = GROUP, seed_: int = 1) -> None:
    """The example organisation bound to ``group`` (a forum), and ``n`` open incidents routed over the last
    week, as the bot writes them: the core opens and routes each, storage.incidents stores it with its timers,
    events and /status keys, and its topic, card and copies are queued and marked delivered with Telegram-like
    answers (then pruned, as the hourly pass leaves them a day later)."""
    import random

    db = await Database.open(path)
    await import_org(db, read_org_file(ORG_FILE))
    async with db.transaction():
        await org.bind_group(db, group, "Инцидент-менеджмент", PROFILE, True, COORDINATOR, now - timedelta(days=60))
    departments = [d.id for d in await org.active_departments(db, group)]
    await db.close()
    profile = load_profile(PROFILE)
    coordinator = Actor(COORDINATOR, frozenset({"coordinator"}))
    rng = random.Random(seed_)
    raw = sqlite3.connect(path, isolation_level=None)
    raw.row_factory = sqlite3.Row
    raw.execute("PRAGMA synchronous=OFF")
    conn: Any = Connection(raw)  # the storage functions' SQL on a plain sqlite3 connection
    raw.execute("BEGIN")
    message_id = 1000
    for i in range(1, n + 1):
        routed_at = (now - timedelta(seconds=rng.randrange(7 * 24 * 3600))).replace(microsecond=0)
        detected = routed_at - timedelta(minutes=rng.randrange(1, 30))
        source, link = SOURCES[i % len(SOURCES)]
        link = link.format(1000 + i)
        text = TEXT.format(i % 200 + 1, link)
        chosen = tuple(rng.sample(departments, 1 if rng.random() < 0.8 else 2))
        opened = open_incident(profile, i, source, detected, routed_at)
        routed = decide(profile, opened.incident, Route(chosen), coordinator, routed_at)
        assert not hasattr(routed, "reason"), routed
        await store.insert(conn, opened.incident, chat_id=group, profile=PROFILE, source=source, text=text, link=link,
                           origin={}, detected_at=detected, created_by=COORDINATOR, now=routed_at)
        await store.save(conn, profile, routed.incident, routed_at, opened.stopped + routed.stopped,  # type: ignore[union-attr]
                         plan=notice_plan(profile, routed.incident, routed_at))  # type: ignore[union-attr]
        await store.log_events(conn, i, opened.events, detected, COORDINATOR)
        await store.log_events(conn, i, routed.events, routed_at, COORDINATOR)  # type: ignore[union-attr]
        thread = 10 + i
        chat = {"id": group, "type": "supergroup", "title": "Инцидент-менеджмент", "is_forum": True}
        calls = [
            ("createForumTopic", {"chat_id": group, "name": f"№{i} · {text[:60]}"}, f"topic:{i}",
             {"message_thread_id": thread, "name": f"№{i} · {text[:60]}", "icon_color": 7322096}),
            ("sendMessage", {"chat_id": group, "message_thread_id": {"$thread": i}, "text": f"<b>№{i}</b>\n{text}",
                             "reply_markup": {"inline_keyboard": [[{"text": "🚫 Не наша компетенция",
                                                                    "callback_data": f"i:nc:{i}"}]]}},
             f"card:{i}", None),
            ("copyMessages", {"chat_id": group, "message_thread_id": {"$thread": i}, "from_chat_id": COORDINATOR,
                              "message_ids": [rng.randrange(1, 10**6)]}, None, [{"message_id": 0}]),
        ]
        for method, payload, purpose, result in calls:
            call_id = await out.enqueue(conn, group, method, payload, routed_at, purpose=purpose)
            message_id += 1
            if result is None:  # a message, as Telegram answers it
                result = {"message_id": message_id, "date": int(routed_at.timestamp()), "chat": chat,
                          "message_thread_id": thread, "is_topic_message": True, "text": text,
                          "from": {"id": 1, "is_bot": True, "first_name": "Бот", "username": "bench_bot"},
                          "reply_markup": payload.get("reply_markup")}
            elif isinstance(result, list):
                result = [{"message_id": message_id}]
            await out.mark_sent(conn, call_id, routed_at, result)
            if isinstance(result, dict):
                await out.record_result(conn, purpose, result)
    # As a running bot leaves them: the notices due so far sent (the next ones tomorrow), the digests sent.
    raw.execute("UPDATE timers SET next_notice_at = ? WHERE next_notice_at < ?",
                (to_db(now + timedelta(days=1)), to_db(now)))
    for day in range(-1, 3):
        raw.execute("INSERT OR IGNORE INTO digests VALUES (?,?,?)",
                    (group, (now + timedelta(days=day)).date().isoformat(), to_db(now)))
    raw.execute("COMMIT")
    raw.close()
    db = await Database.open(path)
    try:
        await prune_delivered(db, now)  # the hourly pass, a day later: a restart has nothing to catch up on
    finally:
        await db.close()
    with contextlib.closing(sqlite3.connect(path)) as conn_:
        conn_.execute("PRAGMA wal_checkpoint(TRUNCATE)")


async def seeded(workdir: Path, n: int, now: datetime) -> Path:
    """The seeded database of ``n`` open incidents, cached in ``workdir`` (by size and schema version)."""
    from storage.migrations import MIGRATIONS

    path = workdir / f"seed-{n}-v{len(MIGRATIONS)}.sqlite3"
    if not path.exists():
        started = time.perf_counter()
        partial = path.with_name(path.name + ".partial")
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(str(partial) + suffix).unlink()
        await seed(partial, n, now)
        partial.rename(path)
        print(f"  seeded {n:,} open incidents in {time.perf_counter() - started:.0f} s "
              f"({path.stat().st_size / 2**20:.0f} MB)", flush=True)
    return path


def fresh_copy(path: Path, name: str) -> Path:
    target = path.with_name(name)
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(str(target) + suffix).unlink()
    shutil.copyfile(path, target)
    return target


# --- processes ----------------------------------------------------------------------------------------------


class TimedEmulator(TelegramEmulator):
    """The emulator, with the moment each method is first called."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.first: dict[str, float] = {}

    async def _handle_call(self, request: Any) -> Any:
        self.first.setdefault(request.match_info["method"].lower(), time.time())
        return await super()._handle_call(request)


def bot_env(tg: TelegramEmulator, database: Path, code: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PROFILES_DIR", "DEFAULT_PROFILE", "DEFER_AIOGRAM_SCHEMAS")}
    env.update({"PYTHONPATH": str(code), "BOT_TOKEN": tg.token, "TELEGRAM_API_URL": tg.base_url,
                "DATABASE_PATH": str(database), "LOG_LEVEL": "WARNING", "ADMIN_IDS": str(COORDINATOR),
                "RETENTION_DAYS": "365"})
    return env


# --- 1. start and memory -----------------------------------------------------------------------------------


async def run_start(database: Path, code: Path = ROOT, timeout: float = 120.0) -> dict[str, float]:
    async with TimedEmulator(privacy_mode=False) as tg:
        coordinator = tg.create_user("Анна", user_id=COORDINATOR, started=True)
        spawned = time.time()
        proc = subprocess.Popen([sys.executable, "-m", "bot"], cwd=database.parent, env=bot_env(tg, database, code),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            await wait(lambda: "getupdates" in tg.first or proc.poll() is not None, timeout, "the first getUpdates")
            if proc.poll() is not None:
                raise RuntimeError(f"the bot exited: {await stop(proc)}")
            serving = tg.first["getupdates"] - spawned
            cpu = cpu_seconds(proc.pid)  # what it cost the bot, whatever the load of the machine
            asked = time.time()
            tg.send_text(coordinator, "/status")
            answer = await wait(lambda: [m for m in tg.bot_messages(coordinator) if "Открытые инциденты" in m.text],
                                timeout, "the answer to /status")
            answered = time.time() - asked
            peak = peak_mb(proc.pid)
            assert "Открытые инциденты:" in answer[0].text
        finally:
            tail = await stop(proc)
        if proc.returncode not in (0, -signal.SIGTERM):
            print(f"  the bot exited with {proc.returncode}: {tail}")
        return {"serving": serving, "cpu": cpu, "status": answered, "peak": peak}


async def section_start(workdir: Path, args: argparse.Namespace) -> list[Row]:
    size, starts = getattr(args, "start_size", 10_000), getattr(args, "starts", 5)
    code = Path(getattr(args, "code", None) or ROOT).resolve()
    print(f"\n== start and memory: python -m bot on {size:,} open incidents, {starts} spawns"
          + (f" (the bot from {code})" if code != ROOT else ""), flush=True)
    database = await seeded(workdir, size, _now())
    runs = []
    for run in range(starts):
        runs.append(await run_start(fresh_copy(database, f"start-{run}.sqlite3"), code))
        r = runs[-1]
        print(f"  run {run + 1}: first getUpdates {r['serving']:.2f} s after spawn ({r['cpu']:.2f} s of CPU), "
              f"/status answered in {r['status']:.2f} s, peak RSS {r['peak']:.0f} MB", flush=True)
    serving = statistics.median(r["serving"] for r in runs)
    peak = statistics.median(r["peak"] for r in runs)
    answered = statistics.median(r["status"] for r in runs)
    k = f"{size // 1000}k"
    return [(f"start to first getUpdates at {k} open (median of {len(runs)})", f"{serving:.2f} s",
             f"<= {GOAL_START:g} s", "ok" if serving <= GOAL_START else "not ok"),
            (f"CPU of the bot until then (median of {len(runs)})", f"{statistics.median(r['cpu'] for r in runs):.2f} s",
             "", ""),
            (f"/status answered right after start at {k} open (median of {len(runs)})", f"{answered:.2f} s", "", ""),
            (f"peak RSS at {k} open, after /status (median of {len(runs)}, max {max(r['peak'] for r in runs):.0f})",
             f"{peak:.0f} MB", f"<= {GOAL_MEMORY:g} MB", "ok" if peak <= GOAL_MEMORY else "not ok")]


# --- 2. /status and migration 8 ------------------------------------------------------------------------------


async def timed_status(service: Service, ask: StatusAsk, now: datetime,
                       fn: Callable[..., Awaitable[str]] = status_text, runs: int = 5) -> tuple[float, int, str]:
    await fn(service, ask, now)  # warm: profiles loaded, pages in the cache
    statements: list[str] = []
    await service.db.conn.set_trace_callback(statements.append)
    text = await fn(service, ask, now)
    await service.db.conn.set_trace_callback(None)
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        await fn(service, ask, now)
        took.append(time.perf_counter() - started)
    return statistics.median(took), len(statements), text


async def migration_cost(database: Path, n: int) -> list[Row]:
    from tests.test_status_at_scale import as_version_7  # a schema-7 copy, as the migration's test builds it

    path = fresh_database(database.with_name(f"migrate-{n}.sqlite3"))
    as_version_7(database, path)
    started = time.perf_counter()
    db = await Database.open(path)
    try:
        opened = time.perf_counter() - started
        computed = await store.refresh_status(db, load_profile)
        took = time.perf_counter() - started
    finally:
        await db.close()
    print(f"  migration 8 at {n:,} open: the SQL {opened:.1f} s, then the keys of {computed:,} incidents: "
          f"{took:.1f} s in all", flush=True)
    return [(f"migration 8 at {n // 1000}k open, one time (SQL + keys computed in batches)",
             f"{opened:.1f} s + {took - opened:.1f} s", "", "")]


async def section_status(workdir: Path, args: argparse.Namespace) -> list[Row]:
    sizes = getattr(args, "sizes", [10_000, 100_000])
    print(f"\n== /status at {', '.join(f'{n:,}' for n in sizes)} open incidents", flush=True)
    now = _now()
    rows: list[Row] = []
    for n in sizes:
        database = await seeded(workdir, n, now)
        db = await Database.open(fresh_copy(database, f"status-{n}.sqlite3"))  # migrations: what the bot runs
        try:
            service = Service(db, SystemClock())
            for who, ask in (("coordinator (all)", StatusAsk(COORDINATOR, COORDINATOR, private=True)),
                             ("head of one department", StatusAsk(ZHKH_HEAD, ZHKH_HEAD, private=True))):
                took, queries, text = await timed_status(service, ask, now)
                print(f"  {n:,} open, {who}: {took * 1000:.0f} ms (median of 5), {queries} SQL statements, "
                      f"«{text.splitlines()[0]}»", flush=True)
                whose = "the coordinator's" if who.startswith("coordinator") else "a head's"
                rows.append((f"/status at {n // 1000}k open, {whose} (median of 5; {queries} statements)",
                             f"{took * 1000:.0f} ms", f"<= {GOAL_STATUS * 1000:g} ms at 100k",
                             ("ok" if took <= GOAL_STATUS else "not ok") if n >= 100_000 else ""))
            if getattr(args, "old", False) and n == min(sizes):
                from tests.test_status_at_scale import reference_status_text  # the former way, kept by the test

                took, queries, _text = await timed_status(service, StatusAsk(COORDINATOR, COORDINATOR, private=True),
                                                          now, reference_status_text, runs=1)
                print(f"  {n:,} open, the former way (each incident loaded): {took:.1f} s, {queries} SQL statements",
                      flush=True)
                rows.append((f"/status at {n // 1000}k open, the former way ({queries} statements)",
                             f"{took * 1000:.0f} ms", "", ""))
        finally:
            await db.close()
        if not getattr(args, "skip_migration", False):
            rows += await migration_cost(database, n)
    return rows


# --- 3. the outbox ------------------------------------------------------------------------------------------


def outbox_bytes(database: Path) -> tuple[int, int]:
    with contextlib.closing(sqlite3.connect(database)) as conn:
        rows, size = conn.execute("SELECT COUNT(*), SUM(LENGTH(CAST(payload AS BLOB)) + "
                                  "IFNULL(LENGTH(CAST(result AS BLOB)), 0)) FROM outbox WHERE sent_at IS NOT NULL"
                                  ).fetchone()
    return rows, size or 0


async def section_outbox(workdir: Path, args: argparse.Namespace) -> list[Row]:
    from tests.scenario import Scenario
    from tests.test_scenarios import bind, intake

    incidents = getattr(args, "incidents", 5)
    print(f"\n== the outbox: {incidents} incidents through the standard path, the real bot against the emulator",
          flush=True)
    run = workdir / "outbox-run"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    async with Scenario.start(run) as s:
        tg = s.tg
        await bind(s)
        for i in range(incidents):
            await intake(s, f"Во дворе дома {i} яма https://vk.com/wall-1_{100 + i}",
                         ["Управление жилищно-коммунального хозяйства"])
            topic = tg.topics(s.group)[-1]
            tg.send_text(s.zhkh, "Яму заделаем до пятницы, бригада уже выехала на место.", chat=s.group,
                         thread=topic.thread_id)
            await s.settle()
            tg.press_button(s.coordinator, tg.last_bot_message(s.group, topic.thread_id), "✅ Согласовать")
            await s.settle()
            tg.press_button(s.coordinator, tg.last_bot_message(s.group, topic.thread_id), "📤 Опубликовано")
            await s.settle()
            tg.send_text(s.coordinator, f"https://vk.com/wall-1_{100 + i}?reply=7", chat=s.group,
                         thread=topic.thread_id)
            await s.settle()
        database = s.settings.database_path
        calls, before = outbox_bytes(database)
        pruned = await prune_delivered(s.app.db, s.clock.now() + timedelta(days=1))  # the policy: latest 20 kept
        _calls, policy = outbox_bytes(database)
        await prune_delivered(s.app.db, s.clock.now() + timedelta(days=1), keep_latest=0)  # at scale: all pruned
        _calls, after = outbox_bytes(database)
    per = calls / incidents
    print(f"  {calls} delivered calls ({per:.1f} an incident); payloads and answers {before / incidents:.0f} B an "
          f"incident; after the hourly pass ({pruned} pruned, each chat's latest 20 whole) {policy / incidents:.0f} B; "
          f"pruned to ids {after / incidents:.0f} B an incident ({after / max(calls, 1):.0f} B a call)", flush=True)
    return [("outbox kept per incident after delivery, before / after pruning (latest 20 a chat aside)",
             f"{before / incidents / 1024:.1f} KB / {after / incidents:.0f} B", "", ""),
            ("  at 100k incidents, before / after", f"{before * 100_000 / incidents / 2**30:.2f} GB / "
             f"{after * 100_000 / incidents / 2**20:.0f} MB", "", "")]


# --- running it alone ----------------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


async def main(args: argparse.Namespace) -> None:
    print(f"{datetime.now(UTC):%Y-%m-%d}; load average at start: {load_average()}; "
          f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs")
    rows: list[Row] = []
    with run_folder(args.workdir, "bench-scale-") as workdir:
        if "start" in args.only:
            rows += await section_start(workdir, args)
        if "status" in args.only:
            rows += await section_status(workdir, args)
        if "outbox" in args.only:
            rows += await section_outbox(workdir, args)
    print_table(rows)
    print(f"\nload average at the end: {load_average()} "
          "(other work on the machine skews every figure)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--only", nargs="+", default=["start", "status", "outbox"], choices=["start", "status", "outbox"])
    p.add_argument("--start-size", type=int, default=10_000, help="open incidents in the start run's database")
    p.add_argument("--starts", type=int, default=5, help="spawns for start and memory; the median counts")
    p.add_argument("--code", help="run the bot process (start) from this checkout instead, e.g. /work/main")
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="open incidents for /status")
    p.add_argument("--old", action="store_true", help="also time the former /status at the smallest size")
    p.add_argument("--skip-migration", action="store_true", help="do not time migration 8 on each size")
    p.add_argument("--incidents", type=int, default=5, help="incidents through the workflow for the outbox")
    p.add_argument("--workdir", help="keep the databases here (seeded ones are reused between runs)")
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
