"""Outer middleware: an update handled once is never handled again (Telegram may resend after a crash)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

from storage import updates
from storage.db import Database


class OncePerUpdate(BaseMiddleware):
    def __init__(self, db: Database, clock: Any) -> None:
        self.db = db
        self.clock = clock

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        if await updates.seen(self.db, event.update_id):
            return None
        result = await handler(event, data)
        await updates.mark(self.db, event.update_id, self.clock.now())
        return result
