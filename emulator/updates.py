"""The update queue behind getUpdates: offsets, limits, long polling, allowed_updates, conflicts."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from .errors import ApiError

# What the bot gets when it never set allowed_updates (or set it to []).
NOT_DELIVERED_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

CONFLICT_DESCRIPTION = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)


def update_type(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")


class UpdateFeed:
    """Updates waiting for the bot.

    * An update stays queued until confirmed by a getUpdates call with a higher ``offset``.
    * ``timeout`` makes getUpdates wait until an update arrives (long polling).
    * ``allowed_updates`` is remembered between calls; updates of other types are dropped when reached
      (see :attr:`dropped`), as the real server never delivers them.
    * A second getUpdates while one is waiting terminates the first with 409 Conflict, like Telegram
      does when two copies of a bot poll at once.
    """

    def __init__(self, first_update_id: int = 700_000_001) -> None:
        self._queue: list[dict[str, Any]] = []
        self._next_id = first_update_id
        self._changed = asyncio.Event()
        self._generation = 0
        self._closed = False
        self.allowed_updates: list[str] = []  # [] = the default set
        self.delivered: list[dict[str, Any]] = []  # every update handed to the bot, in order (first time)
        self.dropped: list[tuple[dict[str, Any], str]] = []  # (update, reason)
        self._delivered_ids: set[int] = set()
        self.waiting_polls = 0

    # ------------------------------------------------------------------------------- test side
    def push(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self._next_id, kind: payload}
        self._next_id += 1
        self._queue.append(update)
        self._changed.set()
        return update

    def drop(self, update: dict[str, Any], reason: str) -> None:
        self.dropped.append((update, reason))

    def drop_pending(self, reason: str) -> None:
        for update in self._queue:
            self.drop(update, reason)
        self._queue.clear()

    @property
    def pending(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by the bot."""
        return list(self._queue)

    def close(self) -> None:
        """Release every waiting getUpdates (they return an empty list)."""
        self._closed = True
        self._changed.set()

    # ------------------------------------------------------------------------------- bot side
    async def get_updates(
        self,
        *,
        offset: int | None,
        limit: int | None,
        timeout: int | None,
        allowed_updates: list[str] | None,
    ) -> list[dict[str, Any]]:
        if limit is not None and not 1 <= limit <= 100:
            limit = min(max(limit, 1), 100)  # the real server clamps silently
        if allowed_updates is not None:
            self.allowed_updates = list(allowed_updates)
        self._confirm(offset)
        self._generation += 1
        generation = self._generation
        self._changed.set()  # wake an older poll so that it notices the conflict
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout or 0, 0)
        self.waiting_polls += 1
        try:
            while True:
                if self._closed:
                    return []
                if generation != self._generation:
                    raise ApiError(409, CONFLICT_DESCRIPTION)
                batch = self._take(limit or 100)
                remaining = deadline - loop.time()
                if batch or remaining <= 0:
                    return batch
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining)
        finally:
            self.waiting_polls -= 1

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:
            self._queue = self._queue[offset:]
        else:
            self._queue = [u for u in self._queue if u["update_id"] >= offset]

    def _take(self, limit: int) -> list[dict[str, Any]]:
        allowed = set(self.allowed_updates) if self.allowed_updates else None
        batch = []
        for update in list(self._queue):
            kind = update_type(update)
            if (kind not in allowed) if allowed is not None else (kind in NOT_DELIVERED_BY_DEFAULT):
                self._queue.remove(update)
                self.drop(update, f"{kind!r} not in allowed_updates {self.allowed_updates}")
                continue
            batch.append(update)
            if update["update_id"] not in self._delivered_ids:
                self._delivered_ids.add(update["update_id"])
                self.delivered.append(update)
            if len(batch) >= limit:
                break
        return batch
