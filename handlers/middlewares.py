"""Outer middleware: an update handled once is never handled again (Telegram may resend after a crash)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

from storage.db import Database, to_db


class OncePerUpdate(BaseMiddleware):
    def __init__(self, db: Database, clock: Any) -> None:
        self.db = db
        self.clock = clock

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        seen = await self.db.fetchone("SELECT 1 FROM processed_updates WHERE update_id = ?", (event.update_id,))
        if seen:
            return None
        result = await handler(event, data)
        await self.db.write("INSERT OR IGNORE INTO processed_updates(update_id, processed_at) VALUES (?, ?)",
                                   (event.update_id, to_db(self.clock.now())))
        return result
