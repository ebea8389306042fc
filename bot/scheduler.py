"""The scheduler: one APScheduler job that wakes at the next due moment and asks storage what is due.

Deadlines are rows, not jobs: a restart rebuilds nothing by hand. The job reschedules itself to the
earliest next notice (at most a minute ahead, so digests and new timers are picked up), and a use case
that starts a timer calls ``poke()`` so a reminder minutes away is not missed.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from bot.clock import Clock, SystemClock
from bot.reminders import Reminders
from bot.sender import Sender

log = logging.getLogger(__name__)
JOB = "tick"


class Scheduler:
    def __init__(self, reminders: Reminders, sender: Sender, clock: Clock) -> None:
        self.reminders = reminders
        self.sender = sender
        self.clock = clock
        self.aps = AsyncIOScheduler(timezone="UTC", job_defaults={"misfire_grace_time": None, "coalesce": True})
        self._ticking = False
        self._dirty = False

    def start(self) -> None:
        self.aps.start()
        self._plan(0.0)

    def stop(self) -> None:
        if self.aps.running:
            self.aps.shutdown(wait=False)

    def poke(self) -> None:
        """Something changed: deliver the outbox now, and look at the timers now rather than later."""
        self.sender.wake()
        self._dirty = True  # a tick running now looks again when it ends
        if self.aps.running and not self._ticking:
            self._plan(0.0)

    async def _tick(self) -> None:
        self._ticking, self._dirty = True, False
        try:
            wake = await self.reminders.tick()
        except Exception:
            log.exception("scheduler tick failed; trying again in a minute")
            wake = self.clock.now() + timedelta(minutes=1)
        finally:
            self._ticking = False
        self.sender.wake()
        # The wait is measured on the injected clock; the trigger is set on the scheduler's own (system)
        # clock: the same thing in production, and tests move the injected one.
        self._plan(0.0 if self._dirty else max((wake - self.clock.now()).total_seconds(), 0.0))

    def _plan(self, delay: float) -> None:
        """The job re-adds itself as a one-shot at the next due moment."""
        run_at = _real_now() + timedelta(seconds=delay)
        # max_instances=2: the job re-plans itself while its run still counts as running; with 1 APScheduler
        # would skip (and drop) a re-run planned for "now". Ticks still take turns on the database.
        self.aps.add_job(self._tick, DateTrigger(run_date=run_at), id=JOB, max_instances=2, replace_existing=True)


def _real_now() -> datetime:
    return SystemClock().now()
