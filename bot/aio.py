"""Small asyncio helpers shared by the long-running loops (inbox, sender, app)."""

from __future__ import annotations

import asyncio
import contextlib


async def wait_any(*events: asyncio.Event, timeout: float | None = None) -> None:
    """Until one of the events is set, at most ``timeout`` seconds (None: no limit)."""
    if any(e.is_set() for e in events):
        return
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=None if timeout is None else max(timeout, 0.0),
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


async def wait_set(event: asyncio.Event, timeout: float) -> None:
    """Until the event is set, at most ``timeout`` seconds: a timer on this task, no task of its own (the sender
    and the inbox wait so after every call and every update; ``wait_for`` and ``wait_any`` start tasks)."""
    if event.is_set():
        return
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(timeout, 0.0)):
            await event.wait()
