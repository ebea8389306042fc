"""The one place the bot reads the time. Tests pass a FakeClock they can move."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self.moment = start.astimezone(UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, delta: timedelta) -> None:
        self.moment += delta

    def set(self, moment: datetime) -> None:
        self.moment = moment.astimezone(UTC)


class RunningClock:
    """Time that runs from a chosen moment, at a chosen speed (a sandbox, tests over whole days in real
    time): ``speed=60`` makes a minute of a second. ``set()`` jumps; the clock runs on from there."""

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        if start.tzinfo is None:
            raise ValueError("RunningClock needs an aware datetime")
        if speed <= 0:
            raise ValueError("the speed must be positive")
        self.speed = speed
        self.set(start)

    def now(self) -> datetime:
        return self._origin + timedelta(seconds=(time.monotonic() - self._since) * self.speed)

    def set(self, moment: datetime) -> None:
        self._origin = moment.astimezone(UTC)
        self._since = time.monotonic()

    def advance(self, delta: timedelta) -> None:
        self.set(self.now() + delta)
