"""The workflow's updates per second against a bare aiogram echo bot, same emulator. A script that prints figures,
not a test (issue 11's bar: the workflow's updates/s ≥ 0.5 of the echo bot's, same run).

    python benchmarks/bench_throughput.py                      # 5 people at once, 6 incidents each
    python benchmarks/bench_throughput.py --rounds 3           # both bots three times, interleaved; medians
    python benchmarks/bench_throughput.py --profile            # and where the workflow bot's CPU goes
    python benchmarks/bench_throughput.py --sql                # and SQL statements / commits per update

The bot (``App`` with pacing off, as the scenario tests run it) and a bare aiogram echo bot, each in a process of
its own against one Bot API emulator (emulator/, a real HTTP server in this process), get the same closed-loop
load: ``--workers`` people acting at once, each waiting for the bot's answer before the next update. The
workflow's update is a step of the standard path (the coordinator sends a post with its link, picks the
department, «📨 Отправить в группу», the head's answer in the topic, «✅ Согласовать», «📤 Опубликовано», the
link: 7 updates an incident); the echo bot's, a text and its echo. Printed: updates/s over the whole run, the bot
process's CPU per update (utime + stime from /proc), Bot API calls per update, and the ratio of the two bots.
``--profile`` runs the workflow bot under cProfile (from after the warm-up to the end) and prints the top;
``--sql`` counts the statements the workflow bot's connection executes and the transactions it commits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import platform
import pstats
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CODE = ROOT  # the checkout the bot processes run (--code: another one, for figures before a change)

from harness import (  # noqa: E402  (benchmarks/)
    COORDINATOR,
    cpu_seconds,
    forum_group,
    fresh_database,
    load_average,
    organisation,
    print_table,
    run_folder,
    stop,
)

import bot  # noqa: E402, F401  — first, as in production: aiogram's schemas deferred (bot/lazy_aiogram.py)
from emulator import TelegramEmulator  # noqa: E402

GOAL_RATIO = 0.5  # workflow updates/s over the echo bot's
ZHKH = "Управление жилищно-коммунального хозяйства"
STEPS = 7  # updates per incident on the standard path

WORKFLOW_CHILD = """
import asyncio, cProfile, os, time
import bot
from bot.app import App
from bot.sender import RateLimiter
from bot.settings import load_settings

if os.environ.get("BENCH_SQL"):  # every statement the bot's connection runs, and who ran it
    import aiosqlite, collections, signal, sys
    import storage.db
    counts, callers = collections.Counter(), collections.Counter()
    def count(sql):
        counts["statements"] += 1
        head = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        counts[head] += 1
        frame, where = sys._getframe(2), []
        while frame is not None and len(where) < 2:  # the storage function and the bot's code that called it
            name = frame.f_code.co_filename
            if ("/storage/" in name and "db.py" not in name and not where) or "/bot/" in name:
                where.append(name.rsplit("/", 2)[-2] + "/" + name.rsplit("/", 1)[-1] + ":" + frame.f_code.co_name)
            frame = frame.f_back
        callers[(head, " < ".join(where))] += 1
        return head, " < ".join(where)
    # the database's own connection class if it has one (storage.db.Connection), else aiosqlite's
    cls = getattr(storage.db, "Connection", aiosqlite.Connection)
    import time
    spent = collections.Counter()
    def timed(where):
        started = time.perf_counter()
        def done(_future=None):
            spent[where] += time.perf_counter() - started
        return done
    for method in ("execute", "executemany", "execute_fetchall"):
        async def counted(self, sql, *args, _original=getattr(cls, method), **kwargs):
            where = count(sql)
            started = time.perf_counter()
            try:
                return await _original(self, sql, *args, **kwargs)
            finally:  # inline statements: their run; aiosqlite's: the wait for the worker thread as well
                spent[where] += time.perf_counter() - started
        setattr(cls, method, counted)
    def report(*_):
        print("BENCH_SQL " + " ".join(f"{k}={v}" for k, v in sorted(counts.items())), file=sys.stderr, flush=True)
        for (head, where), n in callers.most_common(60):
            print(f"BENCH_SQL_CALLER {n} {spent[(head, where)] * 1e6 / n:.0f}us {head} {where}", file=sys.stderr,
                  flush=True)
        callers.clear()
        spent.clear()
    signal.signal(signal.SIGUSR2, report)

async def main():
    app = await App.create(load_settings(), limiter=RateLimiter(0.0, 10**9, 10**9))  # pacing off
    try:
        await app.run(handle_signals=True)
    finally:
        await app.close()

profile = os.environ.get("BENCH_PROFILE")
profiler = cProfile.Profile(time.thread_time)  # CPU of the event loop's thread, not waiting
if profile:  # from SIGUSR1 (sent after the warm-up) to the end
    import signal
    signal.signal(signal.SIGUSR1, lambda *_: profiler.enable())
try:
    asyncio.run(main())
finally:
    if profile:
        profiler.disable()
        profiler.dump_stats(profile)
"""

ECHO_CHILD = """
import asyncio, os
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message

dp = Dispatcher()

@dp.message()
async def echo(message: Message) -> None:
    await message.answer(message.text or "?")

api = TelegramAPIServer.from_base(os.environ["TELEGRAM_API_URL"])
bot = Bot(os.environ["BOT_TOKEN"], session=AiohttpSession(api=api))
asyncio.run(dp.start_polling(bot, polling_timeout=10, handle_signals=True))
"""


def bot_env(tg: TelegramEmulator, database: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PROFILES_DIR", "DEFAULT_PROFILE", "DEFER_AIOGRAM_SCHEMAS")}
    env.update({"PYTHONPATH": str(CODE), "BOT_TOKEN": tg.token, "TELEGRAM_API_URL": tg.base_url,
                "DATABASE_PATH": str(database), "LOG_LEVEL": "WARNING", "ADMIN_IDS": str(COORDINATOR),
                "RETENTION_DAYS": "365"})
    env.update(extra)
    return env


POLL = 0.01  # s between two looks at the emulator (--poll); 0: look again each time the emulator answers a call
CHANGED: asyncio.Event | None = None  # set by the emulator after each call it answered (POLL 0)


class SignallingEmulator(TelegramEmulator):
    """The emulator, telling the driver when a call has been answered (so the driver reacts at once, rather than
    on its next look: a 10 ms look adds up to 10 ms to each of the workflow's several waits per update)."""

    async def _handle_call(self, request: Any) -> Any:
        try:
            return await super()._handle_call(request)
        finally:
            if CHANGED is not None:
                CHANGED.set()


async def wait(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        if CHANGED is not None:
            CHANGED.clear()
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        if CHANGED is None:
            await asyncio.sleep(POLL)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(CHANGED.wait(), 0.05)


class Load:
    """Closed-loop load: each worker acts, waits for the bot's answer, acts again. Counts updates."""

    def __init__(self, tg: TelegramEmulator) -> None:
        self.tg = tg
        self.updates = 0

    async def answered(self, qid: str, timeout: float = 30.0) -> None:
        await wait(lambda: self.tg.callback_answer(qid).answered, timeout, "the answer to a press")


async def workflow_incident(load: Load, group: Any, coordinator: Any, head: Any, tag: str) -> None:
    """The standard path, 7 updates: the post, the department, send, the head's answer, approve, published, link."""
    tg = load.tg
    seen = {m.message_id for m in tg.bot_messages(coordinator)}
    tg.send_text(coordinator, f"{tag} на ул. Ленина яма https://vk.com/wall-1_{tag}")
    load.updates += 1
    panel = (await wait(lambda: [m for m in tg.bot_messages(coordinator)
                                 if m.message_id not in seen and m.reply_markup], 30, "the intake panel"))[0]
    qid = tg.press_button(coordinator, panel, ZHKH)
    load.updates += 1
    await load.answered(qid)
    await wait(lambda: ZHKH in tg.message(coordinator, panel.message_id).text, 30, "the panel to show the department")
    qid = tg.press_button(coordinator, tg.message(coordinator, panel.message_id), "📨 Отправить в группу")
    load.updates += 1
    await load.answered(qid)
    topic = await wait(lambda: next((t for t in tg.topics(group) if tag in t.name), None), 30, "the topic")
    await wait(lambda: tg.bot_messages(group, topic.thread_id), 30, "the card")
    tg.send_text(head, f"Яму заделаем до пятницы ({tag}).", chat=group, thread=topic.thread_id)
    load.updates += 1
    review = await wait(lambda: next((m for m in tg.bot_messages(group, topic.thread_id)
                                      if "на проверке" in m.text and m.reply_markup), None), 30, "the review")
    qid = tg.press_button(coordinator, review, "✅ Согласовать")
    load.updates += 1
    await load.answered(qid)
    publish = await wait(lambda: next((m for m in tg.bot_messages(group, topic.thread_id)
                                       if "📤 Опубликовано" in m.button_texts), None),
                         30, "the publish button")
    asked = len(tg.bot_messages(group, topic.thread_id))
    qid = tg.press_button(coordinator, publish, "📤 Опубликовано")
    load.updates += 1
    await load.answered(qid)
    await wait(lambda: len(tg.bot_messages(group, topic.thread_id)) > asked, 30, "the question for the link")
    tg.send_text(coordinator, f"https://vk.com/wall-1_{tag}?reply=7", chat=group, thread=topic.thread_id)
    load.updates += 1
    await wait(lambda: tg.topic(group, topic.name).closed, 30, "the topic to close")


async def echo_exchange(load: Load, user: Any, tag: str) -> None:
    tg = load.tg
    seen = len(tg.bot_messages(user))
    tg.send_text(user, f"Сообщение {tag}")
    load.updates += 1
    await wait(lambda: len(tg.bot_messages(user)) > seen, 30, "the echo")


async def run_bot_load(workdir: Path, kind: str, workers: int, per_worker: int, profile_to: Path | None = None,
                       sql: bool = False) -> dict[str, Any]:
    global CHANGED
    CHANGED = asyncio.Event() if POLL == 0 else None
    async with SignallingEmulator(privacy_mode=False) as tg:
        database = fresh_database(workdir / f"{kind}.sqlite3")
        coordinators, head, group = forum_group(tg, workers)
        if kind == "workflow":
            await organisation(database, workers)
        code = WORKFLOW_CHILD if kind == "workflow" else ECHO_CHILD
        extra = {"BENCH_PROFILE": str(profile_to)} if profile_to else {}
        if sql and kind == "workflow":
            extra["BENCH_SQL"] = "1"
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=workdir, env=bot_env(tg, database, **extra),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        load = Load(tg)
        try:
            if kind == "workflow":
                tg.send_text(coordinators[0], "/bind", chat=group)
                await wait(lambda: tg.bot_messages(group), 60, "the group to be bound")
                await workflow_incident(load, group, coordinators[0], head, "warm0")  # schemas built, caches warm

                def one(w: int, n: int) -> Awaitable[None]:
                    return workflow_incident(load, group, coordinators[w], head, f"w{w}n{n}")
            else:
                await wait(lambda: proc.poll() is not None or tg.calls("getUpdates"), 60, "polling")
                await echo_exchange(load, coordinators[0], "warm")

                def one(w: int, n: int) -> Awaitable[None]:
                    return echo_exchange(load, coordinators[w], f"w{w}n{n}")
            load.updates = 0
            if profile_to is not None:
                proc.send_signal(signal.SIGUSR1)
            if sql and kind == "workflow":
                proc.send_signal(signal.SIGUSR2)
            cpu0, started, own0 = cpu_seconds(proc.pid), time.perf_counter(), time.process_time()
            calls0 = len(tg.call_log)

            async def worker(w: int) -> None:
                for n in range(per_worker):
                    await one(w, n)

            await asyncio.gather(*(worker(w) for w in range(workers)))
            took, cpu = time.perf_counter() - started, cpu_seconds(proc.pid) - cpu0
            if sql and kind == "workflow":
                proc.send_signal(signal.SIGUSR2)
            emulator = time.process_time() - own0  # the emulator and this driver, in this process
            calls = sum(1 for c in tg.call_log[calls0:] if c.method.lower() != "getupdates")
            violations = len(tg.violations())
            wal = Path(f"{database}-wal")
            log_bytes = wal.stat().st_size if wal.exists() else 0  # the write-ahead log, before the bot closes it
        finally:
            tail = await stop(proc, tail=100_000)
        if proc.returncode not in (0, -signal.SIGTERM):
            print(f"  the {kind} bot exited with {proc.returncode}: {tail[-1500:]}")
        result = {"updates": load.updates, "seconds": took, "cpu": cpu, "violations": violations,
                  "emulator": emulator, "calls": calls, "log": log_bytes}
        counts = [line.split()[1:] for line in tail.splitlines() if line.startswith("BENCH_SQL ")]
        if len(counts) >= 2:  # before and after the measured part
            before, after = (dict((kv.split("=")[0], int(kv.split("=")[1])) for kv in c) for c in counts[-2:])
            result["sql"] = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        lines = tail.splitlines()
        last = max((i for i, line in enumerate(lines) if line.startswith("BENCH_SQL ")), default=None)
        if last is not None:  # who ran the statements of the measured part (after the last count)
            result["callers"] = [line.split(None, 1)[1] for line in lines[last + 1:]
                                 if line.startswith("BENCH_SQL_CALLER")]
        return result


def print_profile(path: Path, top: int = 30) -> None:
    stats = pstats.Stats(str(path))
    for key, title in (("tottime", "own time"), ("cumulative", "cumulative time")):
        buffer = io.StringIO()
        stats.stream = buffer  # type: ignore[attr-defined]
        stats.sort_stats(key).print_stats(os.environ.get("PF", ""), top)
        lines = buffer.getvalue().splitlines()
        start = next(i for i, line in enumerate(lines) if line.strip().startswith("ncalls"))
        print(f"\n  the workflow bot's CPU by {title} (top {top}):")
        for line in lines[start:start + top + 1]:
            print("   " + line.replace(str(CODE) + "/", "").replace(sys.prefix, "<venv>")[:170])


def describe(kind: str, r: dict[str, Any], top: int = 25) -> str:
    line = (f"  {kind}: {r['updates']} updates in {r['seconds']:.1f} s = {r['updates'] / r['seconds']:.1f} updates/s; "
            f"bot CPU {r['cpu'] / r['updates'] * 1000:.1f} ms per update; {r['calls'] / r['updates']:.1f} Bot API "
            f"calls per update (getUpdates aside); emulator and driver CPU "
            f"{r['emulator'] / r['updates'] * 1000:.1f} ms per update; {r['violations']} violations; "
            f"write-ahead log {r['log'] / 2**20:.1f} MB at the end")
    if "sql" in r:
        sql, n = r["sql"], r["updates"]
        line += ("\n    SQL per update: " + f"{sql.get('statements', 0) / n:.1f} statements, "
                 + ", ".join(f"{k} {v / n:.2f}" for k, v in sorted(sql.items()) if k != "statements"))
    for caller in r.get("callers", [])[:top]:
        count, rest = caller.split(None, 1)
        line += f"\n      {int(count) / r['updates']:6.2f}  {rest}"
    return line


async def section_throughput(workdir: Path, args: argparse.Namespace) -> list[tuple[str, str, str, str]]:
    rounds = getattr(args, "rounds", 1)
    print(f"\n== updates per second, pacing off: {args.workers} people at once, {args.incidents} incidents each "
          f"({STEPS} updates an incident) against an echo bot; {rounds} round(s), interleaved", flush=True)
    results: dict[str, list[dict[str, Any]]] = {"workflow": [], "echo": []}
    for n in range(rounds):
        order = [("workflow", args.incidents), ("echo", args.incidents * STEPS)]
        if n % 2:
            order.reverse()
        for kind, per_worker in order:
            profile_to = workdir / "workflow.prof" if args.profile and kind == "workflow" and n == 0 else None
            r = await run_bot_load(workdir, kind, args.workers, per_worker, profile_to,
                                   sql=getattr(args, "sql", False))
            results[kind].append(r)
            print(describe(kind, r, getattr(args, "sql_top", 25)), flush=True)
            if profile_to is not None and profile_to.exists():
                print_profile(profile_to, getattr(args, "top", 30))

    def rate(r: dict[str, Any]) -> float:
        return r["updates"] / r["seconds"]

    def cpu(r: dict[str, Any]) -> float:
        return r["cpu"] / r["updates"]

    ratios = [rate(w) / rate(e) for w, e in zip(results["workflow"], results["echo"], strict=True)]
    cpu_ratios = [cpu(w) / cpu(e) for w, e in zip(results["workflow"], results["echo"], strict=True)]
    ratio = statistics.median(ratios)
    wf_rate = statistics.median(rate(r) for r in results["workflow"])
    echo_rate = statistics.median(rate(r) for r in results["echo"])
    wf_cpu = statistics.median(cpu(r) for r in results["workflow"]) * 1000
    echo_cpu = statistics.median(cpu(r) for r in results["echo"]) * 1000
    each = f" (rounds: {', '.join(f'{x:.2f}' for x in ratios)})" if rounds > 1 else ""
    return [("workflow updates/s", f"{wf_rate:.1f}", "", ""),
            ("echo bot updates/s", f"{echo_rate:.1f}", "", ""),
            ("workflow updates/s / echo bot's (same emulator, same run)", f"{ratio:.2f}{each}", f">= {GOAL_RATIO:g}",
             "ok" if ratio >= GOAL_RATIO else "not ok"),
            ("workflow CPU ms per update", f"{wf_cpu:.1f}", "", ""),
            ("echo bot CPU ms per update", f"{echo_cpu:.1f}", "", ""),
            ("workflow CPU per update / echo bot's", f"{statistics.median(cpu_ratios):.1f}x", "", "")]


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


async def main(args: argparse.Namespace) -> None:
    global CODE, POLL
    POLL = args.poll
    CODE = Path(args.code).resolve() if args.code else ROOT
    if CODE != ROOT:
        print(f"the bot processes run the code in {CODE}")
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average at start: "
          f"{load_average()}")
    print(f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, aiogram {version('aiogram')}, "
          f"pydantic {version('pydantic')}, {os.cpu_count()} CPUs, {platform.machine()} {platform.system()}")
    with run_folder(args.workdir, "bench-throughput-") as workdir:
        rows = await section_throughput(workdir, args)
    print_table(rows)
    print(f"\nload average at the end: {load_average()} "
          "(other work on the machine skews every figure)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, default=5, help="people acting at once")
    p.add_argument("--incidents", type=int, default=6, help="incidents per person in the workflow run "
                   f"(the echo run gets {STEPS}× as many exchanges)")
    p.add_argument("--rounds", type=int, default=1, help="runs of each bot, interleaved; medians are reported")
    p.add_argument("--profile", action="store_true", help="run the workflow bot under cProfile and print the top")
    p.add_argument("--top", type=int, default=30, help="lines of the profile to print")
    p.add_argument("--sql", action="store_true", help="count the workflow bot's SQL statements and commits")
    p.add_argument("--sql-top", type=int, default=25, help="statements (by caller) to list with --sql")
    p.add_argument("--poll", type=float, default=POLL,
                   help="seconds between the driver's looks at the emulator (default %(default)s, as the issue's "
                        "first figures were taken); 0: look each time the emulator has answered a call")
    p.add_argument("--workdir", help="keep the databases (and workflow.prof) here")
    p.add_argument("--code", help="run the bot processes from this checkout instead (figures before a change)")
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
