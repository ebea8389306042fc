"""What keeps an update cheap (issue 11) without changing what it does: filters run in the loop, caches that see
every change (the figures themselves are measured in benchmarks/bench_throughput.py, never here)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from aiogram import F

from bot.clock import SystemClock
from bot.scheduler import JOB, Scheduler
from handlers import build_router, run_filters_inline


def test_no_filter_or_handler_of_the_bot_runs_in_a_worker_thread():
    root = build_router()
    checked = 0
    for router in root.chain_tail:
        for observer in router.observers.values():
            for handler in observer.handlers:
                assert handler.awaitable, handler.callback
            for handler in [observer._handler, *observer.handlers]:
                for f in handler.filters or []:
                    assert f.awaitable, (router.name, f.callback)
                    checked += 1
    assert checked > 20  # the routers' F.… filters were found, not skipped


async def test_an_inlined_magic_filter_still_filters():
    from aiogram import Router
    from aiogram.types import Chat, Message

    router = Router()
    router.message.filter(F.chat.type == "private")

    @router.message(~F.text.startswith("/"))
    async def take(message: Message) -> str:
        return "taken"

    root = Router()
    root.include_router(router)
    run_filters_inline(root)
    [handler] = router.message.handlers
    [outer] = router.message._handler.filters
    private = Message(message_id=1, date=0, chat=Chat(id=1, type="private"), text="hello")
    group = Message(message_id=1, date=0, chat=Chat(id=-1, type="group"), text="hello")
    command = Message(message_id=1, date=0, chat=Chat(id=1, type="private"), text="/help")
    assert await outer.call(private) and not await outer.call(group)
    assert (await handler.check(private))[0] and not (await handler.check(command))[0]


# --- the scheduler: a poke ticks now without re-planning the job for the moment owed ------------------------------


class FakeReminders:
    def __init__(self, wake: datetime) -> None:
        self.wake = wake
        self.ticks = 0

    async def tick(self, now: datetime | None = None) -> datetime:
        self.ticks += 1
        return self.wake


class FakeSender:
    def __init__(self) -> None:
        self.wakes = 0

    def wake(self) -> None:
        self.wakes += 1


async def until(predicate, what: str) -> None:
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


def planned_at(scheduler: Scheduler) -> datetime:
    return scheduler.aps.get_job(JOB).next_run_time


async def test_a_poke_ticks_now_and_the_job_stays_planned_for_the_moment_owed():
    clock = SystemClock()
    reminders = FakeReminders(clock.now() + timedelta(hours=1))
    scheduler = Scheduler(reminders, FakeSender(), clock)  # type: ignore[arg-type]
    scheduler.start()
    try:
        await until(lambda: reminders.ticks == 1, "the first tick")
        await until(lambda: scheduler.aps.get_job(JOB) is not None, "the job planned")
        first = planned_at(scheduler)
        assert abs((first - reminders.wake).total_seconds()) < 1
        for n in range(2, 6):  # each poke: a tick now; the job keeps its moment
            scheduler.poke()
            await until(lambda n=n: reminders.ticks == n, f"tick {n}")
        await until(lambda: not scheduler._ticking, "the last tick to end")
        assert planned_at(scheduler) == first
        reminders.wake = clock.now() + timedelta(minutes=5)  # something is owed sooner: the job moves
        scheduler.poke()
        await until(lambda: reminders.ticks == 6 and abs((planned_at(scheduler) - reminders.wake).total_seconds()) < 1,
                    "the job moved to the sooner moment")
    finally:
        await scheduler.stop()


async def test_pokes_while_a_tick_runs_are_not_lost():
    clock = SystemClock()
    reminders = FakeReminders(clock.now() + timedelta(hours=1))
    scheduler = Scheduler(reminders, FakeSender(), clock)  # type: ignore[arg-type]
    gate = asyncio.Event()

    async def slow_tick(now: datetime | None = None) -> datetime:
        reminders.ticks += 1
        if reminders.ticks == 2:
            await gate.wait()
        return reminders.wake

    reminders.tick = slow_tick  # type: ignore[method-assign]
    scheduler.start()
    try:
        await until(lambda: reminders.ticks == 1 and not scheduler._ticking, "the first tick")
        scheduler.poke()
        await until(lambda: reminders.ticks == 2, "the poked tick to begin")
        scheduler.poke()  # while it runs: it looks again when it ends
        scheduler.poke()
        gate.set()
        await until(lambda: reminders.ticks == 3, "one more tick for the pokes made meanwhile")
        await asyncio.sleep(0.05)
        assert reminders.ticks == 3
    finally:
        await scheduler.stop()
