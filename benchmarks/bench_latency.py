"""Review latency under Telegram's limits (issue 11): from a head's answer in an incident's topic to the chief's
review message there, with 1, 5 and 10 incidents in flight in one group. A script that prints figures, not a test.

    python benchmarks/bench_latency.py                              # 1, 5, 10 in flight: burst, then steady
    python benchmarks/bench_latency.py --in-flight 10 --steady 150  # the bar's case only
    python benchmarks/bench_latency.py --code /path/to/other/checkout   # the bot from another checkout (before)

The real bot (``App`` with the sender's real limits, as ``python -m bot`` builds it) runs in its own process
against the Bot API emulator (package emulator/, a real HTTP server in this process) with its flood control on:
per chat a bucket of 3 posts refilled at 1/s, per group 20 messages in any 60 s; what exceeds them is answered
429. For each size, in one bot process:

1. Setup: /bind, then the N incidents forwarded by N coordinators, routed to the housing department and sent
   to the group (topic, card, copy of the post), all at once.
2. Burst: the N heads answer in the same second. Physically bounded: the group's bucket lets 3 posts go at once
   and then one a second, so the 10th review cannot leave before about 7 s.
3. Steady (``--steady`` seconds): the N incidents are kept in flight. Each head answers again after a random
   pause (seeded, ``--think`` seconds): the first time with a message, then by editing it (the bot posts a new
   review: "✏️ Автор изменил ответ"). After a measured review, with probability ``--close`` the chief approves,
   the final text and the publish buttons are posted, he presses "📤 Опубликовано", sends the link, the topic is
   closed, and a new incident is forwarded and routed in its place (card, copy...). Meanwhile background
   notices (a reminder in a random topic every ``--notice-every`` seconds) are written into the bot's outbox, as
   the scheduler writes them.

Latency = the moment the answer (or its edit) is handed to the emulator's update queue → the moment the bot's
message quoting it is in the topic. p50/p95 per size and mode; and the number of 429s the emulator answered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CODE = ROOT  # the checkout the bot process runs (--code)

from harness import (  # noqa: E402  (benchmarks/)
    COORDINATOR,
    forum_group,
    fresh_database,
    load_average,
    organisation,
    print_table,
    run_folder,
    stop,
    wait,
)

from emulator import TelegramEmulator  # noqa: E402

GOAL_P95 = 5.0  # s, review latency with 10 in flight (steady)
ZHKH = "Управление жилищно-коммунального хозяйства"

CHILD = """
import asyncio
import bot
from bot.app import App
from bot.settings import load_settings

async def main():
    app = await App.create(load_settings())  # the sender's real limits
    try:
        await app.run(handle_signals=True)
    finally:
        await app.close()

asyncio.run(main())
"""


def bot_env(tg: TelegramEmulator, database: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PROFILES_DIR", "DEFAULT_PROFILE")}
    env.update({"PYTHONPATH": str(CODE), "BOT_TOKEN": tg.token, "TELEGRAM_API_URL": tg.base_url,
                "DATABASE_PATH": str(database), "LOG_LEVEL": "WARNING", "ADMIN_IDS": str(COORDINATOR)})
    return env


class Run:
    """One bot process, its group, its coordinators and the head; the measured latencies."""

    def __init__(self, tg: TelegramEmulator, group: Any, coordinators: list[Any], head: Any, database: Path,
                 rng: random.Random) -> None:
        self.tg, self.group, self.coordinators, self.head, self.database, self.rng = \
            tg, group, coordinators, head, database, rng
        self.serial = 0
        self.closed = 0
        self.posts: dict[int, int] = {}  # topic -> the number of the post its incident is about
        self.stuck = 0

    def tag(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}{self.serial:04d}"

    async def answered(self, qid: str) -> None:
        await wait(lambda: self.tg.callback_answer(qid).answered, 300, "the answer to a press")

    async def route(self, w: int) -> Any:
        """Coordinator ``w`` forwards a post, picks the department, sends it to the group: its topic."""
        tg, coordinator = self.tg, self.coordinators[w]
        tag = self.tag("inc")
        post = self.serial
        seen = {m.message_id for m in tg.bot_messages(coordinator)}
        tg.send_text(coordinator, f"{tag} на ул. Ленина яма https://vk.com/wall-1_{post}")
        panel = (await wait(lambda: [m for m in tg.bot_messages(coordinator)
                                     if m.message_id not in seen and m.reply_markup], 300, "the panel"))[0]
        await self.answered(tg.press_button(coordinator, panel, ZHKH))
        await wait(lambda: ZHKH in tg.message(coordinator, panel.message_id).text, 300, "the department")
        await self.answered(tg.press_button(coordinator, tg.message(coordinator, panel.message_id),
                                            "📨 Отправить в группу"))
        topic = await wait(lambda: next((t for t in tg.topics(self.group) if tag in t.name), None), 600, "the topic")
        await wait(lambda: len(tg.bot_messages(self.group, topic.thread_id)) >= 2, 600, "the card and the copy")
        self.posts[topic.thread_id] = post
        return topic

    async def review_of(self, topic: Any, words: str, timeout: float = 600) -> tuple[Any, float]:
        """The review message quoting ``words`` and when it was first seen (polled every 10 ms)."""
        found = await wait(lambda: next((m for m in reversed(self.tg.bot_messages(self.group, topic.thread_id))
                                         if words in (m.text or "") and m.reply_markup), None), timeout,
                           f"the review of {words}")
        return found, time.time()

    async def close(self, w: int, topic: Any, review: Any) -> None:
        """The chief approves; the final text is published, its link given; the topic closes."""
        tg = self.tg
        await self.answered(tg.press_button(self.coordinators[0], review, "✅ Согласовать"))
        publish = await wait(lambda: next((m for m in tg.bot_messages(self.group, topic.thread_id)
                                           if "📤 Опубликовано" in m.button_texts), None), 180, "the publish button")
        def asking() -> int:
            return sum("пришлите в эту тему ссылку" in (m.text or "")
                       for m in tg.bot_messages(self.group, topic.thread_id))

        asked = asking()
        await self.answered(tg.press_button(self.coordinators[0], publish, "📤 Опубликовано"))
        await wait(lambda: asking() > asked, 180, "the question for the link")
        tg.send_text(self.coordinators[0], f"https://vk.com/wall-1_{self.posts[topic.thread_id]}?reply=7",
                     chat=self.group, thread=topic.thread_id)
        await wait(lambda: tg.topic(self.group, topic.name).closed, 180, "the topic to close")
        self.closed += 1


def notice(database: Path, incident: int, group: int, text: str) -> None:
    """A reminder in the incident's topic, as the scheduler writes it (background; merged with others)."""
    conn = sqlite3.connect(database, timeout=30)
    try:
        now = datetime.now(UTC).isoformat()
        columns = {r[1] for r in conn.execute("PRAGMA table_info(outbox)")}
        payload = json.dumps({"chat_id": group, "message_thread_id": {"$thread": incident}, "text": text},
                             ensure_ascii=False)
        if "priority" in columns:
            conn.execute("INSERT INTO outbox(chat_id, method, payload, purpose, not_before, created_at, priority) "
                         "VALUES (?, 'sendMessage', ?, ?, ?, ?, 2)", (group, payload, f"notice:{incident}", now, now))
        else:
            conn.execute("INSERT INTO outbox(chat_id, method, payload, purpose, not_before, created_at) "
                         "VALUES (?, 'sendMessage', ?, NULL, ?, ?)", (group, payload, now, now))
        conn.commit()
    finally:
        conn.close()


def incident_number(topic: Any) -> int:
    return int(topic.name.split("·")[0].strip().lstrip("№"))


async def run_latency(workdir: Path, in_flight: int, args: argparse.Namespace) -> dict[str, Any]:
    async with TelegramEmulator(privacy_mode=False, flood_control=True) as tg:
        database = fresh_database(workdir / f"latency-{in_flight}.sqlite3")
        coordinators, head, group = forum_group(tg, in_flight)
        await organisation(database, in_flight)
        proc = subprocess.Popen([sys.executable, "-c", CHILD], cwd=workdir, env=bot_env(tg, database),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        run = Run(tg, group, coordinators, head, database, random.Random(args.seed + in_flight))
        burst: list[float] = []
        steady: list[float] = []
        moments: list[tuple[float, float]] = []  # steady: (seconds into the phase, latency)
        try:
            tg.send_text(coordinators[0], "/bind", chat=group)
            await wait(lambda: tg.bot_messages(group), 120, "the group to be bound")
            started = time.monotonic()
            topics = list(await asyncio.gather(*(run.route(w) for w in range(in_flight))))
            setup = time.monotonic() - started
            await asyncio.sleep(2)

            # --- burst: every head answers in the same second
            answers: dict[int, Any] = {}
            sent: list[tuple[Any, str, float]] = []
            for w, topic in enumerate(topics):
                words = run.tag("ans")
                answers[w] = tg.send_text(head, f"Яму заделаем до пятницы ({words}).", chat=group,
                                          thread=topic.thread_id)
                sent.append((topic, words, time.time()))
            seen = await asyncio.gather(*(run.review_of(topic, words) for topic, words, _at in sent))
            burst = [arrived - at for (_review, arrived), (_topic, _words, at) in zip(seen, sent, strict=True)]

            # --- steady: answers at random moments while the rest of the workflow and the notices flow
            deadline = time.monotonic() + args.steady
            begun = time.time()

            async def worker(w: int) -> None:
                topic = topics[w]
                while time.monotonic() < deadline:
                    await asyncio.sleep(run.rng.uniform(*args.think))
                    if time.monotonic() >= deadline:
                        return
                    words = run.tag("ans")
                    text = f"Яму заделаем до пятницы ({words})."
                    if w in answers:
                        tg.edit_text(answers[w], text)
                    else:
                        answers[w] = tg.send_text(head, text, chat=group, thread=topic.thread_id)
                    at = time.time()
                    review, arrived = await run.review_of(topic, words)
                    steady.append(arrived - at)
                    moments.append((at - begun, arrived - at))
                    if run.rng.random() < args.close and time.monotonic() < deadline - 20:
                        try:
                            await run.close(w, topic, review)
                        except TimeoutError as e:  # reported, not measured: the run goes on without it
                            print(f"  incident in topic {topic.thread_id} not closed: {e}", flush=True)
                            run.stuck += 1
                            return
                        answers.pop(w, None)
                        topic = topics[w] = await run.route(w)

            async def notices() -> None:
                while time.monotonic() < deadline:
                    await asyncio.sleep(args.notice_every)
                    topic = run.rng.choice(topics)
                    notice(database, incident_number(topic), group.id, f"⏰ Напоминание {run.tag('n')}")

            await asyncio.gather(*(worker(w) for w in range(in_flight)), notices())
            floods = sum(1 for c in tg.call_log if c.kind == "flood")
            for c in tg.call_log:
                if c.kind == "flood":
                    print(f"  429: {c.method} to {c.params.get('chat_id')}", flush=True)
            calls = sum(1 for c in tg.call_log if c.method.lower() != "getupdates")
        finally:
            tail = await stop(proc)
        if proc.returncode not in (0, -signal.SIGTERM):
            print(f"  the bot exited with {proc.returncode}: {tail}")
        print("  steady answers (s into the phase: latency): "
              + ", ".join(f"{t:.0f}: {x:.2f}" for t, x in sorted(moments)), flush=True)
        return {"burst": burst, "steady": steady, "floods": floods, "setup": setup, "closed": run.closed,
                "calls": calls}


def percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    if not ordered:
        return float("nan"), float("nan")
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def section_latency(workdir: Path, args: argparse.Namespace) -> list[tuple[str, str, str, str]]:
    print(f"\n== review latency under Telegram's limits (flood control on), {', '.join(map(str, args.in_flight))} "
          f"in flight; steady {args.steady:g} s", flush=True)
    rows = []
    for n in args.in_flight:
        result = await run_latency(workdir, n, args)
        for mode in ("steady", "burst"):
            lat = result[mode]
            p50, p95 = percentiles(lat)
            print(f"  {n} in flight, {mode}: {len(lat)} answers, p50 {p50:.2f} s, p95 {p95:.2f} s, max "
                  f"{max(lat, default=float('nan')):.2f} s", flush=True)
            goal = f"p95 <= {GOAL_P95:g} s" if n == 10 and mode == "steady" else ""
            ok = ("ok" if p95 <= GOAL_P95 else "not ok") if goal else ""
            rows.append((f"review latency, {n} in flight, {mode} ({len(lat)} answers) p50 / p95",
                         f"{p50:.2f} s / {p95:.2f} s", goal, ok))
        print(f"  {n} in flight: setup {result['setup']:.0f} s, {result['closed']} incidents closed and replaced, "
              f"{result['calls']} calls, {result['floods']} × 429 from the emulator", flush=True)
        rows.append((f"429 answered by Telegram, {n} in flight", str(result["floods"]), "0",
                     "ok" if result["floods"] == 0 else "not ok"))
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--in-flight", type=int, nargs="+", default=[1, 5, 10], help="incidents in flight in one group")
    p.add_argument("--steady", type=float, default=180.0, help="seconds of the steady phase")
    p.add_argument("--think", type=float, nargs=2, default=[30.0, 90.0],
                   help="a head's pause before each answer in the steady phase (uniform, seconds)")
    p.add_argument("--close", type=float, default=0.15, help="chance that a reviewed answer is approved and closed")
    p.add_argument("--notice-every", type=float, default=10.0, help="seconds between background notices")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--workdir", help="keep the databases here")
    p.add_argument("--code", help="run the bot process from this checkout instead (figures before a change)")
    return p.parse_args(argv)


async def main(args: argparse.Namespace) -> None:
    global CODE
    CODE = Path(args.code).resolve() if args.code else ROOT
    if CODE != ROOT:
        print(f"the bot process runs the code in {CODE}")
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average at start: "
          f"{load_average()}")
    with run_folder(args.workdir, "bench-latency-") as workdir:
        rows = await section_latency(workdir, args)
    print_table(rows)
    print(f"\nload average at the end: {load_average()}")


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
