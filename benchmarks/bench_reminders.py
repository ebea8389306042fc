"""Reminder latency and restart cost with many open timers. A script that prints figures, not a test.

    python benchmarks/bench_reminders.py                      # 10k and 100k timers, then 3 restarts on 100k
    python benchmarks/bench_reminders.py --timers 10000       # one size only
    python benchmarks/bench_reminders.py --skip-restart       # latency only
    python benchmarks/bench_reminders.py --skip-latency --restart-timers 100   # restart, next to empty

1. Latency. A SQLite database in a temp dir gets a bound forum group, departments, heads, a coordinator and a
   controller, and N open incidents, each with a running "answer" timer (profile izobilny, standard track),
   plus their history (two events and the sent card in the outbox). Every timer's next notice falls in a
   window (default 60 s) starting a few seconds after the run starts, on whole seconds, so many are due at the
   same moment: a third are the 1 h reminder, a third the 15 min reminder, a third the overdue notice (which
   is also escalated to the controller). Then the real ``Scheduler`` (APScheduler) drives the real
   ``Reminders.tick`` on the system clock: wake at ``next_wake``, tick, repeat. The sender is not run; the
   outbox rows are the output. For each notice: lateness = the moment the tick's transaction committed it
   minus its due moment. Observation only wraps the real code: ``storage.notices.due_timers`` (which rows a
   transaction took) and ``Database.transaction`` (when it committed).
2. Restart. A fresh database with 100k open timers (by default; ``--restart-timers``) whose next notices are
   spread over the hour after the restart, and over the ``--down`` seconds before it (notices missed while
   the bot was down). A new process (``python -c``) does what ``python -m bot`` does: settings from the
   environment (a fake BOT_TOKEN, TELEGRAM_API_URL pointing at a small local Bot API stub), the default
   profile, ``App.create`` (which opens the database and applies migrations), ``App.run``. The stub queues one
   "/start" update. Measured from just before the process is spawned: the first getUpdates reaching the stub
   (serving updates again), the reply to "/start" reaching the stub, the end of the first tick, the moment all
   the missed notices are in the outbox; the median of ``--restarts`` runs, each on a fresh copy; and the peak
   resident memory of the process after it has done all that and was stopped: VmHWM, which the process
   prints as it exits. (ru_maxrss from wait4 is printed too, but on Linux a spawned child's ru_maxrss also
   counts the pages of the process it was forked from, here this benchmark with its 100k-row build.)

The whole takes about 4–5 minutes on 2 CPUs and bounds itself: a latency run stops ``--max-late`` seconds
after its window closes whether or not every notice went out (the unprocessed ones are then counted as at least
that late); a restart waits at most ``--catch-up`` seconds after the bot's first tick for the missed notices.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402

from bot.clock import SystemClock  # noqa: E402
from bot.reminders import Reminders  # noqa: E402
from bot.scheduler import JOB, Scheduler  # noqa: E402
from bot.service import Service  # noqa: E402
from profiles.loader import load_profile  # noqa: E402
from storage import notices as due_store  # noqa: E402
from storage.db import Database, to_db  # noqa: E402
from storage.incidents import refresh_status  # noqa: E402

GOAL_P99 = 1.0  # s
GOAL_RESTART = 2.0  # s
GOAL_MEMORY = 150.0  # MB

PROFILE = "izobilny"
GROUP = -1001000000001
COORDINATOR, SUBSTITUTE, CONTROLLER = 100001, 100002, 100003
DEPARTMENTS = [  # (id, code, name, territorial, heads)
    (1, "zhkh", "Управление жилищно-коммунального хозяйства", 0, [(200001, "Петров Пётр Петрович")]),
    (2, "roads", "Отдел дорожного хозяйства и транспорта", 0, [(200002, "Сидоров Сергей Иванович")]),
    (3, "education", "Управление образования", 0,
     [(200003, "Кузнецова Мария Алексеевна"), (200004, "Орлова Елена Викторовна")]),
    (4, "ryzdvyany", "Рыздвяненский территориальный отдел", 1, [(200005, "Волков Андрей Николаевич")]),
]
PEOPLE = [(COORDINATOR, "Иванова Анна Сергеевна", ["coordinator", "admin"]),
          (SUBSTITUTE, "Смирнов Дмитрий Олегович", ["substitute"]),
          (CONTROLLER, "Фёдоров Игорь Павлович", ["controller"])]
SOURCES = [("vk", "https://vk.com/wall-1_{}"), ("ok", "https://ok.ru/group/1/topic/{}"),
           ("incident", "https://pos.gosuslugi.ru/landing/{}")]
TEXT = ("Жители дома по ул. Ленина, {0} жалуются: третий день не вывозят мусор, контейнерная площадка "
        "переполнена, просят принять меры и сообщить сроки. {1}")
ANSWER = timedelta(hours=3)  # the standard track's answer timer (п. 6.2): reminders 1 h and 15 min before
# where the timer's next notice is: (due_at - notice moment, notices already sent)
KINDS = [(timedelta(hours=1), 0), (timedelta(minutes=15), 1), (timedelta(0), 2)]


# --- the database ---------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return to_db(moment) or ""


async def build_database(path: Path, n: int, moments: list[datetime], seed: int = 1) -> None:
    """A bound group, the organisation, ``n`` open incidents, each with one running timer whose next notice is
    ``moments[i]``. The schema comes from the bot's own migrations; the rows are bulk inserts matching what
    the bot writes for an incident sent to the group."""
    db = await Database.open(path)
    await db.close()
    rng = random.Random(seed)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    built = datetime.now(UTC)
    conn.execute("INSERT INTO groups VALUES (?,?,?,?,?,?)",
                 (GROUP, "Инцидент-менеджмент", PROFILE, 1, COORDINATOR, _iso(built - timedelta(days=60))))
    for dep_id, code, name, territorial, heads in DEPARTMENTS:
        conn.execute("INSERT INTO departments (id, chat_id, code, name, territorial) VALUES (?,?,?,?,?)",
                     (dep_id, GROUP, code, name, territorial))
        for user_id, person in heads:
            conn.execute("INSERT INTO people (user_id, name) VALUES (?,?)", (user_id, person))
            conn.execute("INSERT INTO memberships (user_id, chat_id, role, department_id) VALUES (?,?,?,?)",
                         (user_id, GROUP, "executor", dep_id))
    for user_id, person, roles in PEOPLE:
        conn.execute("INSERT INTO people (user_id, name) VALUES (?,?)", (user_id, person))
        for role in roles:
            conn.execute("INSERT INTO memberships (user_id, chat_id, role) VALUES (?,?,?)", (user_id, GROUP, role))
    # The digest is not what is measured: mark it sent for the days the run may cross.
    for day in range(-1, 3):
        local_day = (built + timedelta(hours=3, days=day)).date().isoformat()  # Europe/Moscow, UTC+3
        conn.execute("INSERT INTO digests VALUES (?,?,?)", (GROUP, local_day, _iso(built)))

    incidents, timers, events, outbox = [], [], [], []
    for i, notice_at in enumerate(moments, start=1):
        before, sent = KINDS[i % len(KINDS)]
        due_at = notice_at + before
        started = due_at - ANSWER
        dep = DEPARTMENTS[rng.randrange(len(DEPARTMENTS))]
        source, link = SOURCES[i % len(SOURCES)]
        link = link.format(1000 + i)
        text = TEXT.format(i % 200 + 1, link)
        stamp = _iso(started)
        incidents.append((i, GROUP, PROFILE, source, "standard", "assigned", json.dumps([dep[0]]),
                          json.dumps({"detected": stamp, "routed": stamp}), text, link, COORDINATOR, stamp, stamp,
                          i + 10, i + 11))
        timers.append((i, "answer", "п. 6.2", "executor", stamp, _iso(due_at), _iso(notice_at), sent))
        events += [(i, "detected", stamp, COORDINATOR), (i, "routed", stamp, COORDINATOR)]
        card = {"chat_id": GROUP, "message_thread_id": {"$thread": i},
                "text": f"<b>№{i} · ВКонтакте</b>\nВыявлено: 10:00\n<blockquote>{text}</blockquote>\n🔗 {link}\n"
                        f"Исполнители: {dep[2]}\nСтатус: в работе у исполнителя"}
        outbox.append((GROUP, json.dumps(card, ensure_ascii=False), f"card:{i}", stamp, stamp, stamp,
                       json.dumps({"message_id": i + 11})))
    conn.executemany(
        """INSERT INTO incidents(id, chat_id, profile, source, track, state, departments, event_times, text, link,
                                 created_by, detected_at, created_at, thread_id, card_message_id)
           VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""", incidents)
    conn.executemany(
        """INSERT INTO timers(incident_id, timer_id, clause, role, started_at, due_at, next_notice_at, notices_sent)
           VALUES (?,?,?,?,?,?,?,?)""", timers)
    conn.executemany("INSERT INTO incident_events(incident_id, event, at, user_id) VALUES (?,?,?,?)", events)
    conn.executemany(
        """INSERT INTO outbox(chat_id, method, payload, purpose, not_before, created_at, sent_at, result, attempts)
           VALUES (?,'sendMessage',?,?,?,?,?,?,1)""", outbox)
    conn.execute("COMMIT")
    conn.close()
    db = await Database.open(path)  # /status's keys, as storage.incidents.save writes them (else the bot's
    try:  # first start computes them all in the background, during the restart measured)
        await refresh_status(db, load_profile)
    finally:
        await db.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def shift_timers(path: Path, seconds: int) -> None:
    """Move every timer (start, deadline, next notice) by whole seconds, keeping the stored format."""
    fmt = "strftime('%Y-%m-%dT%H:%M:%S+00:00', {0}, '{1:+d} seconds')"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"UPDATE timers SET started_at = {fmt.format('started_at', seconds)}, "
                 f"due_at = {fmt.format('due_at', seconds)}, "
                 f"next_notice_at = {fmt.format('next_notice_at', seconds)}")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def window_moments(n: int, start: datetime, seconds: int, seed: int = 2) -> list[datetime]:
    """``n`` moments on whole seconds, uniformly in [start, start + seconds)."""
    rng = random.Random(seed)
    return [start + timedelta(seconds=rng.randrange(seconds)) for _ in range(n)]


# --- 1. latency ------------------------------------------------------------------------------------


@dataclass
class LatencyResult:
    timers: int
    window: int
    notices: int = 0
    processed: int = 0
    lateness: list[float] = field(default_factory=list)  # s, one per processed notice
    ticks: list[tuple[float, int]] = field(default_factory=list)  # (duration s, notices taken) per tick
    outbox_rows: int = 0
    build_s: float = 0.0
    cutoff: float = 0.0
    stalled: bool = False  # when the run stopped, no tick was running and none was planned
    last_tick: float = float("nan")  # when the last tick ended, s after the window opened

    def percentile(self, q: float) -> float:
        """Over all notices; the unprocessed ones count as late by the cutoff (then a lower bound)."""
        values = sorted(self.lateness + [self.cutoff] * (self.notices - self.processed))
        return values[min(len(values) - 1, math.ceil(q * len(values)) - 1)] if values else float("nan")


def profiles_without_quiet_hours(workdir: Path) -> Path:
    """The profile with its quiet hours taken out: the figures must not depend on the hour the benchmark
    runs (at night every notice would be held back to the morning and nothing written)."""
    folder = workdir / "profiles"
    folder.mkdir(exist_ok=True)
    text = (ROOT / "profiles" / f"{PROFILE}.toml").read_text("utf-8")
    start = text.index("[quiet_hours]")
    end = text.index("\n[", start + 1)
    (folder / f"{PROFILE}.toml").write_text(text[:start] + text[end + 1:], "utf-8")
    return folder


class _NoSender:
    """The scheduler wakes the sender after each tick; the outbox is the output here, nothing is sent."""

    def wake(self) -> None:
        pass


async def run_latency(workdir: Path, n: int, window: int, lead: int, max_late: float) -> LatencyResult:
    result = LatencyResult(timers=n, window=window, notices=n)
    path = workdir / f"latency-{n}.sqlite3"
    t0 = time.perf_counter()
    base = datetime.now(UTC).replace(microsecond=0)
    await build_database(path, n, window_moments(n, base, window))
    result.build_s = time.perf_counter() - t0
    # The window starts ``lead`` seconds from now, on a whole second.
    start = datetime.fromtimestamp(math.ceil(time.time()) + lead, UTC)
    shift_timers(path, int((start - base).total_seconds()))
    end = start + timedelta(seconds=window)
    result.cutoff = max_late

    clock = SystemClock()
    db = await Database.open(path)
    reminders = Reminders(Service(db, clock, profiles_without_quiet_hours(workdir)))
    taken: list[due_store.DueTimer] = []
    done: dict[int, float] = {}  # timer row id -> lateness, s

    real_due_timers = due_store.due_timers

    async def observed_due_timers(conn: Any, now: datetime, limit: int = 1000) -> list[due_store.DueTimer]:
        rows = await real_due_timers(conn, now, limit)
        taken.extend(rows)
        return rows

    real_transaction = db.transaction

    @contextlib.asynccontextmanager
    async def observed_transaction() -> AsyncIterator[Any]:
        try:
            async with real_transaction() as conn:
                yield conn
        except BaseException:
            taken.clear()
            raise
        committed = clock.now()
        for r in taken:
            if r.row_id not in done and start <= r.next_notice_at < end:
                done[r.row_id] = (committed - r.next_notice_at).total_seconds()
        taken.clear()

    real_tick = reminders.tick
    busy = asyncio.Event()
    stopping = asyncio.Event()

    async def timed_tick(now: datetime | None = None) -> datetime:
        if stopping.is_set():  # the run is over: let the scheduler idle rather than cancel a tick mid-way
            return clock.now() + timedelta(minutes=1)
        busy.set()
        before = len(done)
        t = time.perf_counter()
        try:
            return await real_tick(now)
        finally:
            result.ticks.append((time.perf_counter() - t, len(done) - before))
            result.last_tick = (clock.now() - start).total_seconds()
            busy.clear()

    due_store.due_timers = observed_due_timers  # type: ignore[assignment]
    db.transaction = observed_transaction  # type: ignore[method-assign]
    reminders.tick = timed_tick  # type: ignore[method-assign]
    scheduler = Scheduler(reminders, _NoSender(), clock)  # type: ignore[arg-type]
    try:
        scheduler.start()
        stop_at = end + timedelta(seconds=max_late)
        while len(done) < n and clock.now() < stop_at:
            await asyncio.sleep(0.1)
        result.stalled = len(done) < n and not busy.is_set() and scheduler.aps.get_job(JOB) is None
        stopping.set()
        while busy.is_set():  # a tick in flight finishes before the scheduler stops and the database closes
            await asyncio.sleep(0.01)
        await scheduler.stop()
        await asyncio.sleep(0.1)
        row = await db.fetchone("SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL")
        result.outbox_rows = int(row["n"]) if row else 0
    finally:
        due_store.due_timers = real_due_timers
        await db.close()
    result.processed = len(done)
    result.lateness = sorted(done.values())
    busy_ticks = [t for t in result.ticks if t[1]]
    result.ticks = busy_ticks or result.ticks
    return result


# --- 2. restart ------------------------------------------------------------------------------------

CHILD = """
import time
import asyncio, logging, resource
from bot.app import App
from bot.settings import load_settings
from profiles.loader import load_profile
print("imported", time.time(), flush=True)

async def main():
    settings = load_settings()
    load_profile(settings.default_profile, settings.profiles_dir)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = await App.create(settings)
    print("created", time.time(), flush=True)
    tick = app.reminders.tick
    async def timed(now=None):
        t = time.time()
        wake = await tick(now)
        print("tick", t, time.time(), flush=True)
        return wake
    app.reminders.tick = timed
    try:
        await app.run(handle_signals=True)
    finally:
        await app.close()

try:
    asyncio.run(main())
finally:
    try:  # this address space's own peak (ru_maxrss of a spawned child also counts its parent's pages)
        with open("/proc/self/status") as status:
            peak = next(int(x.split()[1]) for x in status if x.startswith("VmHWM:"))
    except (OSError, StopIteration):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("peak", peak, flush=True)
"""

TOKEN = "123456789:AAbenchmarkFakeToken_0123456789abcd"


class BotApiStub:
    """Just enough of the Bot API for the bot to start polling and answer one "/start"."""

    def __init__(self) -> None:
        self.first: dict[str, float] = {}  # method (or "reply") -> wall time of its first call
        self.calls: dict[str, int] = {}
        self.base_url = ""
        self._runner: web.AppRunner | None = None
        self._delivered = False
        self._stop = asyncio.Event()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._call)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"

    async def stop(self) -> None:
        self._stop.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _call(self, request: web.Request) -> web.Response:
        now = time.time()
        method = request.match_info["method"].lower()
        params = dict(await request.post())
        self.first.setdefault(method, now)
        self.calls[method] = self.calls.get(method, 0) + 1
        result: Any = True
        if method == "getme":
            result = {"id": int(TOKEN.split(":")[0]), "is_bot": True, "first_name": "Бот", "username": "bench_bot"}
        elif method == "getupdates":
            if not self._delivered:
                self._delivered = True
                result = [{"update_id": 1, "message": {
                    "message_id": 1, "date": int(now), "text": "/start",
                    "chat": {"id": COORDINATOR, "type": "private", "first_name": "Анна"},
                    "from": {"id": COORDINATOR, "is_bot": False, "first_name": "Анна"},
                    "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}]
            else:  # long polling: nothing more to say
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), float(str(params.get("timeout", 1))))
                result = []
        elif method == "sendmessage":
            chat_id = int(str(params.get("chat_id", 0)))
            if chat_id == COORDINATOR:
                self.first.setdefault("reply", now)
            result = {"message_id": 1000 + self.calls[method], "date": int(now),
                      "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup", "title": "g"},
                      "text": str(params.get("text", ""))[:50]}
        return web.json_response({"ok": True, "result": result})


@dataclass
class RestartResult:
    timers: int
    missed: int
    marks: dict[str, float] = field(default_factory=dict)  # s after spawn
    first_tick_s: float = float("nan")
    peak_mb: float = float("nan")  # the process's own peak resident set (VmHWM), printed by it at exit
    maxrss_mb: float = float("nan")  # ru_maxrss from wait4: includes the spawning parent's pages (see below)
    missed_left: int = -1  # missed notices still not in the outbox when the measurement stopped
    ticks: int = 0
    exit_code: int | None = None
    stderr_tail: str = ""


@dataclass
class RestartDatabase:
    pristine: Path
    base: datetime  # the moment of the restart as built; each run shifts the timers to its own
    timers: int
    missed: int


async def build_restart(workdir: Path, n: int, down: int) -> RestartDatabase:
    path = workdir / f"restart-{n}.pristine.sqlite3"
    base = datetime.now(UTC).replace(microsecond=0)
    horizon = 3600
    # Spread over [base - down, base + 1 h): those before the restart were missed while the bot was down.
    moments = window_moments(n, base - timedelta(seconds=down), horizon + down, seed=3)
    await build_database(path, n, moments)
    return RestartDatabase(path, base, n, sum(1 for m in moments if m < base))


async def run_restart(workdir: Path, built: RestartDatabase, run: int, timeout: float,
                      catch_up: float) -> RestartResult:
    path = workdir / f"restart-{built.timers}.run{run}.sqlite3"
    shutil.copyfile(built.pristine, path)
    # Shift the timers so that the restart happens now, as built.
    spawn_at = math.ceil(time.time()) + 1
    shift_timers(path, spawn_at - int(built.base.timestamp()))
    result = RestartResult(timers=built.timers, missed=built.missed)

    stub = BotApiStub()
    await stub.start()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": stub.base_url,
           "DATABASE_PATH": str(path), "LOG_LEVEL": "WARNING", "ADMIN_IDS": str(COORDINATOR)}
    for key in ("PROFILES_DIR", "DEFAULT_PROFILE"):
        env.pop(key, None)
    env["PROFILES_DIR"] = str(profiles_without_quiet_hours(workdir))
    while time.time() < spawn_at:
        await asyncio.sleep(0.01)
    spawned = time.time()
    proc = subprocess.Popen([sys.executable, "-c", CHILD], cwd=workdir, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []

    async def read_stdout() -> None:
        assert proc.stdout is not None
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, proc.stdout.readline)
            if not line:
                return
            lines.append(line.strip())

    reader = asyncio.create_task(read_stdout())
    restart_at = to_db(datetime.fromtimestamp(spawn_at, UTC))
    probe = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def missed_left() -> int:
        row = probe.execute("SELECT COUNT(*) FROM timers WHERE stopped_at IS NULL AND paused_at IS NULL "
                            "AND next_notice_at < ?", (restart_at,)).fetchone()
        return int(row[0])

    # Until it serves updates, has ticked, and has caught up with the notices missed while it was down
    # (or ``catch_up`` seconds after its first tick, or the time-out).
    deadline = spawned + timeout
    first_tick_seen: float | None = None
    while time.time() < deadline and proc.poll() is None:
        if first_tick_seen is None and any(x.startswith("tick") for x in lines):
            first_tick_seen = time.time()
        if "reply" in stub.first and first_tick_seen is not None:
            result.missed_left = missed_left()
            if result.missed_left == 0:
                result.marks["missed ones queued"] = time.time() - spawned
                break
            if time.time() > first_tick_seen + catch_up:
                break
        await asyncio.sleep(0.05)
    probe.close()
    await asyncio.sleep(0.5)  # a moment in its steady state before it is stopped
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    loop = asyncio.get_running_loop()
    try:
        _, status, usage = await asyncio.wait_for(loop.run_in_executor(None, os.wait4, proc.pid, 0), 15)
    except TimeoutError:
        proc.kill()
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    result.exit_code = proc.returncode
    result.maxrss_mb = usage.ru_maxrss / 1024  # kilobytes on Linux
    await reader
    assert proc.stderr is not None
    result.stderr_tail = proc.stderr.read()[-2000:]
    await stub.stop()

    for line in lines:
        word, *values = line.split()
        if word == "peak":
            result.peak_mb = int(values[0]) / 1024
        elif word in ("imported", "created"):
            result.marks.setdefault(word, float(values[0]) - spawned)
        elif word == "tick":
            result.ticks += 1
            if "first tick done" not in result.marks:
                result.marks["first tick done"] = float(values[1]) - spawned
                result.first_tick_s = float(values[1]) - float(values[0])
    for method, label in (("getme", "getMe"), ("getupdates", "first getUpdates"), ("reply", "reply to /start")):
        if method in stub.first:
            result.marks[label] = stub.first[method] - spawned
    return result


# --- output ----------------------------------------------------------------------------------------


def _size(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else f"{n:,}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def report_latency(r: LatencyResult) -> list[tuple[str, str, str, str]]:
    durations = [d for d, _ in r.ticks]
    sizes = [k for _, k in r.ticks]
    per_notice = sum(durations) / max(sum(sizes), 1)
    print(f"\n== reminder latency, {r.timers:,} open timers, all due within {r.window} s "
          f"(database built in {r.build_s:.1f} s)")
    print(f"processed {r.processed:,} of {r.notices:,} notices"
          + ("" if r.processed == r.notices else f" (stopped {r.cutoff:.0f} s after the window closed)"))
    if r.stalled:
        print(f"the scheduler had stopped: the last tick ended {r.last_tick:.1f} s after the window opened, and "
              "when the run was cut off no tick was running and none was planned (its job was gone)")
    if r.lateness:
        if r.processed < r.notices:
            print(f"lateness, the unprocessed counted as {r.cutoff:.0f} s (so lower bounds): "
                  f"median {_ms(r.percentile(0.5))}, p90 {_ms(r.percentile(0.9))}, p99 {_ms(r.percentile(0.99))}; "
                  f"the processed ones: max {_ms(max(r.lateness))}")
        else:
            print(f"lateness: median {_ms(r.percentile(0.5))}, p90 {_ms(r.percentile(0.9))}, "
                  f"p99 {_ms(r.percentile(0.99))}, max {_ms(max(r.lateness))}")
    if durations:
        print(f"ticks that sent notices: {len(durations)}; per tick: median {_ms(statistics.median(durations))}, "
              f"max {_ms(max(durations))}; notices per tick: median {statistics.median(sizes):.0f}, "
              f"max {max(sizes)}; {per_notice * 1000:.2f} ms of tick per notice "
              f"({1 / per_notice if per_notice else 0:,.0f} notices/s)")
    print(f"outbox rows written: {r.outbox_rows:,}")
    p99 = r.percentile(0.99)
    bound = ">= " if r.processed < r.notices else ""
    return [(f"reminder p99 lateness, {_size(r.timers)} timers", f"{bound}{p99:.2f} s", f"< {GOAL_P99:g} s",
             "ok" if p99 < GOAL_P99 and r.processed == r.notices else "not ok"),
            (f"reminder median lateness, {_size(r.timers)} timers", f"{bound}{r.percentile(0.5):.2f} s", "", ""),
            (f"time per tick (median / max), {_size(r.timers)} timers",
             f"{_ms(statistics.median(durations))} / {_ms(max(durations))}" if durations else "-", "", "")]


def print_restart(r: RestartResult, run: int) -> None:
    print(f"\n== restart {run}, {r.timers:,} open timers, {r.missed:,} notices missed while down")
    for label, value in sorted(r.marks.items(), key=lambda kv: kv[1]):
        print(f"{label:>20}: {value:6.2f} s after spawn")
    if "imported" in r.marks and "created" in r.marks:
        print(f"App.create (Database.open with migrations, Bot, Dispatcher, routers): "
              f"{r.marks['created'] - r.marks['imported']:.3f} s; interpreter start and imports: "
              f"{r.marks['imported']:.2f} s")
    if "created" in r.marks and "getMe" in r.marks:
        print(f"App.run until polling starts (getMe): {r.marks['getMe'] - r.marks['created']:.3f} s")
    if r.missed_left > 0:
        print(f"NOT caught up: {r.missed_left:,} of the {r.missed:,} missed notices were still not in the outbox "
              f"when the measurement stopped; {r.ticks} tick(s) ran in all")
    print(f"first tick took {r.first_tick_s:.2f} s; peak RSS of the bot process (VmHWM) {r.peak_mb:.0f} MB; "
          f"exit code {r.exit_code}")
    print(f"(ru_maxrss from wait4 says {r.maxrss_mb:.0f} MB, but on Linux a spawned child's ru_maxrss also "
          "counts the pages of the process it was forked from, here this benchmark)")
    if r.stderr_tail.strip():
        print("its stderr (tail):\n" + r.stderr_tail.rstrip())


def restart_rows(runs: list[RestartResult]) -> list[tuple[str, str, str, str]]:
    def median(label: str) -> float:
        values = [r.marks[label] for r in runs if label in r.marks]
        return statistics.median(values) if len(values) == len(runs) else float("nan")

    r = runs[0]
    k = _size(r.timers)
    of = f" (median of {len(runs)})" if len(runs) > 1 else ""
    serving, reply = median("first getUpdates"), median("reply to /start")
    peak = max(x.peak_mb for x in runs)
    caught = median("missed ones queued")
    left = max(x.missed_left for x in runs)
    return [(f"restart to first getUpdates, {k} timers{of}", f"{serving:.2f} s", f"< {GOAL_RESTART:g} s",
             "ok" if serving < GOAL_RESTART else "not ok"),
            (f"restart to reply to /start, {k} timers{of}", f"{reply:.2f} s", f"< {GOAL_RESTART:g} s",
             "ok" if reply < GOAL_RESTART else "not ok"),
            (f"peak memory (VmHWM), {k} timers (max of {len(runs)})", f"{peak:.0f} MB", f"< {GOAL_MEMORY:g} MB",
             "ok" if peak < GOAL_MEMORY else "not ok"),
            (f"restart to all {r.missed:,} missed notices in the outbox{of}",
             f"{caught:.2f} s" if left <= 0 else f"not caught up: up to {left:,} left", "", "")]


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


def print_table(rows: list[tuple[str, str, str, str]]) -> None:
    header = ("metric", "value", "goal", "ok")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    print()
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


async def main(args: argparse.Namespace) -> None:
    rows: list[tuple[str, str, str, str]] = []
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, aiogram {_version('aiogram')}, "
          f"pydantic {_version('pydantic')}, {os.cpu_count()} CPUs, {platform.machine()} {platform.system()}")
    with tempfile.TemporaryDirectory(prefix="bench-reminders-") as tmp:
        workdir = Path(tmp)
        for n in [] if args.skip_latency else args.timers:
            rows += report_latency(await run_latency(workdir, n, args.window, args.lead, args.max_late))
            for f in workdir.glob(f"latency-{n}.sqlite3*"):
                f.unlink()
        if not args.skip_restart:
            built = await build_restart(workdir, args.restart_timers, args.down)
            runs = []
            for run in range(1, args.restarts + 1):
                runs.append(await run_restart(workdir, built, run, args.restart_timeout, args.catch_up))
                print_restart(runs[-1], run)
                for f in workdir.glob(f"restart-{built.timers}.run{run}.sqlite3*"):
                    f.unlink()
            rows += restart_rows(runs)
    print_table(rows)
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "(other work on the machine skews every figure)")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--timers", type=int, nargs="+", default=[10_000, 100_000], help="open timers per latency run")
    p.add_argument("--window", type=int, default=60, help="seconds over which the notices are due")
    p.add_argument("--lead", type=int, default=5, help="seconds from the start of a run to its window")
    p.add_argument("--max-late", type=float, default=45.0,
                   help="stop a latency run this many seconds after its window closes")
    p.add_argument("--skip-latency", action="store_true")
    p.add_argument("--skip-restart", action="store_true")
    p.add_argument("--restart-timers", type=int, default=100_000)
    p.add_argument("--down", type=int, default=60, help="seconds the bot was down before the restart")
    p.add_argument("--restarts", type=int, default=3, help="restarts measured, each on a fresh copy; the median counts")
    p.add_argument("--restart-timeout", type=float, default=60.0)
    p.add_argument("--catch-up", type=float, default=10.0,
                   help="after its first tick, wait at most this long for the restarted bot to send the missed notices")
    return p.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
