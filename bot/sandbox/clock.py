"""The sandbox's time: a wall clock that starts where it is told and jumps forward on request.

The bot reads it as its one injected clock (bot/clock.py's ``Clock``); the emulator dates messages by it,
so a message sent after "+1 h" is dated an hour later, as are the deadlines the bot computes from it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.clock import Clock, SystemClock


class SandboxClock:
    """``now()`` = the system time + an offset; the offset only grows (time never runs backwards)."""

    def __init__(self, start: datetime | None = None, base: Clock | None = None) -> None:
        self.base = base or SystemClock()
        if start is not None and start.tzinfo is None:
            raise ValueError("the sandbox clock needs an aware datetime")
        self.offset = start - self.base.now() if start is not None else timedelta(0)

    def now(self) -> datetime:
        return self.base.now() + self.offset

    def advance(self, delta: timedelta) -> None:
        if delta < timedelta(0):
            raise ValueError("the sandbox clock only moves forward")
        self.offset += delta

    def move_to(self, moment: datetime) -> timedelta:
        """Jump to ``moment`` (if it is ahead); returns how far the clock moved."""
        delta = max(moment - self.now(), timedelta(0))
        self.advance(delta)
        return delta
