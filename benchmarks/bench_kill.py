"""Duplicates and losses per kill -9 at random moments during a busy flow. A script that prints figures, not a test.

    python benchmarks/bench_kill.py                 # 20 kills (about a minute and a half)
    python benchmarks/bench_kill.py --kills 1000    # the figure for the README (about an hour)
    python benchmarks/bench_kill.py --seed 7 --max-up 3.0

The bot runs as ``python -m bot`` in a process of its own (tests/process.py) against the Bot API emulator
(emulator/) in this process. A driver plays the whole Izobilny flow again and again, as people do:

    the coordinator forwards post k → the panel → picks the department → «📨 Отправить в группу»
    → the topic, the card, the copy of the post → the head answers in the topic → the review message
    → «✅ Согласовать» → «✅ Согласовано…» and the final text with its buttons → «📤 Опубликовано»
    → «Без ссылки» → closed

Meanwhile a killer waits a random time (uniform in [0, --max-up] seconds after the bot polls again) and sends
SIGKILL, then starts the bot again at once, --kills times. The driver does not know about the kills: it waits
for what a person would see (up to --patience seconds per step, then the incident counts as stalled and the
driver moves on). When the kills are done, the driver finishes its incident and the bot gets --settle seconds.

Then every incident is checked against what Telegram shows. For each post: panels in the coordinator's chat
("Инцидент №N отправлен" once), topics, cards, copies of the post, review messages, «✅ Согласовано», publish
prompts — each must be there exactly once. More than once is a duplicate (a card resent after a kill that Telegram
had already carried out is also counted when its thread says so, "♻️"); missing is a loss. Also: updates left
unhandled in the inbox, outbox rows given up. A kill "mid-call" is one made while a call other than getUpdates was
in flight at the emulator.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emulator import Message, Topic  # noqa: E402
from tests.process import ProcessWorld  # noqa: E402

ZHKH = "Управление жилищно-коммунального хозяйства"
SEND = "📨 Отправить в группу"


@dataclass
class Run:
    kills: int = 0
    mid_call: int = 0
    incidents: int = 0
    stalled: list[str] = field(default_factory=list)
    done_killing: asyncio.Event = field(default_factory=asyncio.Event)


async def killer(w: ProcessWorld, run: Run, kills: int, max_up: float, rng: random.Random) -> None:
    while run.kills < kills:
        await asyncio.sleep(rng.uniform(0, max_up))
        await w.bot.kill()
        run.kills += 1
        # the bot had recorded a call as in flight and not its outcome: Telegram may or may not have done it
        in_flight = w.bot.query("SELECT COUNT(*) FROM outbox WHERE in_flight_at IS NOT NULL AND sent_at IS NULL "
                                "AND failed_at IS NULL")[0][0]
        run.mid_call += bool(in_flight)
        await w.bot.start()
    run.done_killing.set()


async def step(w: ProcessWorld, run: Run, k: int, what: str, predicate, patience: float):
    try:
        return await w.tg.wait_for(predicate, timeout=patience, what=what)
    except TimeoutError:
        run.stalled.append(f"post {k}: {what}")
        return None


def bot_messages(w: ProcessWorld, chat, thread: int | None = None) -> list[Message]:
    return w.tg.messages(chat, thread, from_bot=True)


def press(w: ProcessWorld, user, message: Message, label: str) -> None:
    w.tg.press_button(user, w.tg.message(message.chat.id, message.message_id), label)


async def incident(w: ProcessWorld, run: Run, k: int, patience: float) -> None:
    """One post through the whole flow, waiting at each step for what a person would see."""
    tg, coordinator, head = w.tg, w.people["coordinator"], w.people["zhkh"]
    seen = {m.message_id for m in bot_messages(w, coordinator)}
    tg.send_text(coordinator, f"Пост{k}: яма у дома {k} https://vk.com/wall-1_{k}")
    panel = await step(w, run, k, "the panel", lambda: next(
        (m for m in bot_messages(w, coordinator) if m.message_id not in seen and SEND in m.button_texts), None),
        patience)
    if panel is None:
        return
    press(w, coordinator, panel, ZHKH)
    chosen = await step(w, run, k, "the department chosen", lambda: any(
        t.startswith("✅") and ZHKH in t for t in tg.message(panel.chat.id, panel.message_id).button_texts), patience)
    if not chosen:
        return
    press(w, coordinator, panel, SEND)
    topic: Topic | None = await step(w, run, k, "the topic", lambda: next(
        (t for t in tg.topics(w.group) if f"Пост{k}:" in t.name), None), patience)
    if topic is None:
        return
    await step(w, run, k, "the copy of the post", lambda: any(
        (m.text or "").startswith(f"Пост{k}:") for m in bot_messages(w, w.group, topic.thread_id)), patience)
    tg.send_text(head, f"Ответ{k}: заделаем яму у дома {k}.", chat=w.group, thread=topic.thread_id)
    review = await step(w, run, k, "the review", lambda: next(
        (m for m in bot_messages(w, w.group, topic.thread_id) if "✅ Согласовать" in m.button_texts), None), patience)
    if review is None:
        return
    press(w, coordinator, review, "✅ Согласовать")
    prompt = await step(w, run, k, "the publish prompt", lambda: next(
        (m for m in bot_messages(w, w.group, topic.thread_id) if "📤 Опубликовано" in m.button_texts), None), patience)
    if prompt is None:
        return
    press(w, coordinator, prompt, "📤 Опубликовано")
    no_link = await step(w, run, k, "the link question", lambda: next(
        (m for m in bot_messages(w, w.group, topic.thread_id) if "Без ссылки" in m.button_texts), None), patience)
    if no_link is None:
        return
    press(w, coordinator, no_link, "Без ссылки")
    await step(w, run, k, "the topic closed", lambda: tg.topics(w.group)[-1].closed or any(
        t.closed for t in tg.topics(w.group) if f"Пост{k}:" in t.name), patience)


async def driver(w: ProcessWorld, run: Run, patience: float, at_least: int) -> None:
    k = 0
    while not run.done_killing.is_set() or k < at_least:
        k += 1
        await incident(w, run, k, patience)
        run.incidents = k


def check(w: ProcessWorld, run: Run) -> tuple[Counter[str], Counter[str], int]:
    """(duplicates by kind, losses by kind, duplicates marked as such) — as the chats show them now"""
    tg, coordinator = w.tg, w.people["coordinator"]
    dup: Counter[str] = Counter()
    lost: Counter[str] = Counter()
    marked = 0
    sent = Counter(int(m.group(1)) for t in (m.text or "" for m in bot_messages(w, coordinator))
                   if (m := re.match(r"Инцидент №(\d+) отправлен", t)))
    panels = len([m for m in bot_messages(w, coordinator) if not (m.text or "").startswith(("⛔", "✅", "⚠️", "⏳"))])
    forwards = len([m for m in tg.messages(coordinator) if not m.from_bot and (m.text or "").startswith("Пост")])
    dup["panel"] += max(panels - forwards, 0)
    lost["panel"] += max(forwards - panels, 0)
    group_messages = bot_messages(w, w.group)
    for k in range(1, run.incidents + 1):
        topics = [t for t in tg.topics(w.group) if f"Пост{k}:" in t.name]  # not Пост1 in Пост10
        if not topics:
            continue  # stalled before the send (counted in stalled)
        number = int(re.match(r"№(\d+)", topics[0].name).group(1))
        counts = {
            "sent to the group": sent[number],
            "topic": len(topics),
            "card": sum((m.text or "").startswith(f"№{number} ·") for m in group_messages),
            "copy of the post": sum((m.text or "").startswith(f"Пост{k}:") for m in group_messages),
            "review": sum(f"Ответ{k}:" in (m.text or "") and (m.text or "").startswith("📝")
                          for m in group_messages),  # its buttons go once it is decided
            "approved": sum((m.text or "").startswith("✅ Согласовано") for t in topics
                            for m in bot_messages(w, w.group, t.thread_id)),
            "publish prompt": sum((m.text or "").startswith(f"Ответ{k}:") for t in topics  # the final text alone
                                  for m in bot_messages(w, w.group, t.thread_id)),
        }
        marked += sum((m.text or "").startswith("♻️") for t in topics for m in bot_messages(w, w.group, t.thread_id))
        finished = any(t.closed for t in topics)
        for kind, n in counts.items():
            if n > 1:
                dup[kind] += n - 1
            elif n == 0 and (finished or kind in ("topic", "card", "copy of the post", "sent to the group")):
                lost[kind] += 1
    return dup, lost, marked


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--max-up", type=float, default=2.0, help="the longest the bot lives between kills (s)")
    parser.add_argument("--patience", type=float, default=60.0, help="how long a step may take (s)")
    parser.add_argument("--settle", type=float, default=15.0, help="time given to the bot after the last kill (s)")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--incidents", type=int, default=1, help="drive at least this many incidents")
    parser.add_argument("--dump", action="store_true", help="print what the group shows at the end")
    parser.add_argument("--keep", help="a folder to work in (the database and the bot's logs stay there)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    started = time.monotonic()
    kept = contextlib.nullcontext(tempfile.mkdtemp(prefix="bench-kill-", dir=args.keep)) if args.keep else None
    with kept or tempfile.TemporaryDirectory(prefix="bench-kill-") as folder:
        async with ProcessWorld.start(Path(folder)) as w:
            await w.bot.start()
            w.tg.send_text(w.people["coordinator"], "/bind", chat=w.group)
            await w.tg.wait_for_message(w.group, timeout=30)
            run = Run()
            await asyncio.gather(killer(w, run, args.kills, args.max_up, rng),
                                 driver(w, run, args.patience, args.incidents))
            await asyncio.sleep(args.settle)
            dup, lost, marked = check(w, run)
            unhandled = w.bot.query("SELECT COUNT(*) FROM inbox WHERE handled_at IS NULL")[0][0]
            failed = w.bot.query("SELECT COUNT(*) FROM outbox WHERE failed_at IS NOT NULL")[0][0]
            pending = w.bot.query("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL")[0][0]
            calls = w.tg.call_count(ok_only=True)
            removed = len([m for m in w.tg.deleted_messages(w.group) if m.from_bot])
            removed_topics = len(w.tg.topics(w.group, include_deleted=True)) - len(w.tg.topics(w.group))
            if args.dump:
                for m in w.tg.messages(w.group):
                    print(m.message_id, m.thread_id, "bot" if m.from_bot else "   ", repr((m.text or "")[:70]),
                          m.button_texts)
            with contextlib.suppress(Exception):
                await w.bot.terminate()
    minutes = (time.monotonic() - started) / 60
    per = 1000 / max(run.kills, 1)
    print(f"kills: {run.kills} (mid-call: {run.mid_call}), incidents driven: {run.incidents}, "
          f"Bot API calls carried out: {calls}, {minutes:.1f} min")
    print(f"duplicates: {sum(dup.values())} ({dict(dup) or '-'}), marked as such in the thread: {marked}; "
          f"copies the bot found and deleted after a restart: {removed} messages, {removed_topics} topics")
    print(f"losses: {sum(lost.values())} ({dict(lost) or '-'}); steps stalled past --patience: {len(run.stalled)}")
    print(f"inbox left unhandled: {unhandled}; outbox given up: {failed}; outbox still pending: {pending}")
    print(f"per 1,000 kills: {sum(dup.values()) * per:.0f} duplicates, {sum(lost.values()) * per:.0f} losses")
    for line in run.stalled[:10]:
        print("  stalled:", line)


if __name__ == "__main__":
    asyncio.run(main())
