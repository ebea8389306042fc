"""The scheduler: one APScheduler job that wakes at the next due moment and asks storage what is due.

Deadlines are rows, not jobs: a restart rebuilds nothing by hand. Each tick returns the next moment
anything is owed — a timer's notice, a coordinator's reminder of a message not yet sent on, a digest —
and the job re-plans itself for exactly then (there is no periodic tick; an hourly look is only a
safety net, see ``bot.reminders.MAX_WAKE``). A use case that changes what is owed calls ``poke()``: a tick
runs now (or ``POKE_GAP`` after the last one ended), as a task of its own (not through the job: re-adding an
APScheduler job costs more than the tick itself, and a poke comes with every update); the job is planned again
only when the moment owed has changed.

The wait is measured on the injected clock and the trigger set on the system clock: the same thing in
production. On another clock (tests, a sandbox's fast clock) a watcher re-reads that clock — at most a
second apart, sooner at the speed it is seen to run — and runs the tick when its moment has come there.

``stop()`` lets a tick under way finish (or cancels it quietly after a few seconds): no traceback on
SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from bot.clock import Clock, SystemClock
from bot.reminders import Reminders
from bot.sender import Sender

log = logging.getLogger(__name__)
JOB = "tick"
WATCH = 1.0  # s, real: how often the watcher re-reads a clock that is not the system's, at most
STOP_WAIT = 5.0  # s: how long stop() lets a tick under way finish before cancelling it
# s, real: a poke this soon after a tick ended ticks when the gap is over (a tick came with every update: a
# twenty-fifth of the CPU at a hundred updates a second); what a poke made due is looked at at most this late
POKE_GAP = 0.05


class Scheduler:
    def __init__(self, reminders: Reminders, sender: Sender, clock: Clock, stop_wait: float = STOP_WAIT) -> None:
        self.reminders = reminders
        self.stop_wait = stop_wait
        self.sender = sender
        self.clock = clock
        self.aps = AsyncIOScheduler(timezone="UTC", job_defaults={"misfire_grace_time": None, "coalesce": True})
        self._ticking = False
        self._dirty = False
        self._kicked: asyncio.Task[None] | None = None  # a tick started by a poke that has not begun yet
        self._planned: datetime | None = None  # the moment owed (injected clock) the job is planned for
        self._stopping = False
        self._wake: datetime | None = None  # the next moment owed, on the injected clock
        self._current: asyncio.Task[object] | None = None  # the tick under way
        self._watcher: asyncio.Task[None] | None = None
        self._ended = float("-inf")  # when the last tick ended (the loop's time)

    def start(self) -> None:
        self._stopping = False
        self.aps.start()
        self._plan(0.0)
        if not isinstance(self.clock, SystemClock):
            self._watcher = asyncio.get_running_loop().create_task(self._watch(), name="scheduler-watch")

    async def stop(self) -> None:
        """Nothing new starts; a tick under way finishes, or is cancelled quietly after ``stop_wait``."""
        self._stopping = True
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        if self.aps.running:
            with contextlib.suppress(JobLookupError):
                self.aps.remove_job(JOB)
        kicked, self._kicked = self._kicked, None
        if kicked is not None and not kicked.done() and kicked is not asyncio.current_task():  # not begun yet
            kicked.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await kicked
        current = self._current
        if current is not None and not current.done() and current is not asyncio.current_task():
            done, _pending = await asyncio.wait({current}, timeout=self.stop_wait)
            if not done:
                current.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await current
        if self.aps.running:
            self.aps.shutdown(wait=False)

    def poke(self) -> None:
        """Something changed: deliver the outbox now, and look at what is owed now rather than later."""
        self.sender.wake()
        self._dirty = True  # a tick running now looks again when it ends
        if self.aps.running and not self._ticking and not self._stopping:
            self._kick()

    def _kick(self) -> None:
        """A tick now, unless one is about to begin (it reads what the poke's change wrote); within ``POKE_GAP`` of
        the last tick's end, at that gap's end: under load one tick looks for the updates of its moment."""
        if self._kicked is None or self._kicked.done():
            loop = asyncio.get_running_loop()
            gap = self._ended + POKE_GAP - loop.time()
            self._kicked = loop.create_task(self._tick_in(gap) if gap > 0 else self._tick(), name="scheduler-poke")

    async def _tick_in(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await self._tick()

    async def _job(self) -> None:
        """The APScheduler job: a tick at the moment planned."""
        self._planned = None  # the one-shot job is used up
        await self._tick()

    async def _tick(self) -> None:
        if self._stopping:
            return
        if self._kicked is asyncio.current_task():
            self._kicked = None
        self._current = asyncio.current_task()
        self._ticking, self._dirty = True, False
        try:
            wake = await self.reminders.tick()
        except asyncio.CancelledError:  # stopped mid-tick: its transaction is rolled back, nothing is lost
            log.info("scheduler tick stopped; what it was doing is done at the next start")
            return
        except Exception:
            log.exception("scheduler tick failed; trying again in a minute")
            wake = self.clock.now() + timedelta(minutes=1)
        finally:
            self._ticking = False
            self._current = None
            self._ended = asyncio.get_running_loop().time()
        if self._stopping:
            return
        self.sender.wake()
        self._wake = wake
        if self._dirty:  # poked while ticking: look again now
            self._kick()
        elif self._planned is None or wake < self._planned or not self.aps.get_job(JOB):
            # (a job planned earlier than needed stays: it finds nothing due and plans the right moment then)
            self._plan(max((wake - self.clock.now()).total_seconds(), 0.0), wake)

    def _plan(self, delay: float, wake: datetime | None = None) -> None:
        """The job re-adds itself as a one-shot at the next due moment (``wake``, None: now)."""
        run_at = _real_now() + timedelta(seconds=delay)
        self._planned = wake
        # max_instances=2: the job re-plans itself while its run still counts as running; with 1 APScheduler
        # would skip (and drop) a re-run planned for "now". Ticks take turns (Reminders.tick holds a lock).
        self.aps.add_job(self._job, DateTrigger(run_date=run_at), id=JOB, max_instances=2, replace_existing=True)

    async def _watch(self) -> None:
        """For a clock other than the system's: run the tick when the moment owed has come on that clock."""
        loop = asyncio.get_running_loop()
        last_real, last_seen = loop.time(), self.clock.now()
        speed = 0.0
        while not self._stopping:
            now, real = self.clock.now(), loop.time()
            if real > last_real:
                speed = max((now - last_seen).total_seconds() / (real - last_real), 0.0)
            last_real, last_seen = real, now
            wake = self._wake
            delay = WATCH
            if wake is not None and now >= wake:
                if self._ticking:  # the tick under way sets the next moment in a moment
                    delay = 0.05
                elif self.aps.running:
                    self._wake = None  # the tick sets the next one
                    self._plan(0.0)
            elif wake is not None and speed > 0.01:
                delay = min(WATCH, (wake - now).total_seconds() / speed)
            await asyncio.sleep(max(delay, 0.001))


def _real_now() -> datetime:
    return SystemClock().now()
