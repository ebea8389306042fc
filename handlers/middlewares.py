"""Outer middlewares: an update handled once is never handled again (Telegram may resend after a crash);
each update is handled in the language of the person it comes from."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update, User

from bot.i18n import use
from storage import org, updates
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


class UserLanguage(BaseMiddleware):
    """The sender's own language (/language), else the bot's (BOT_LANGUAGE): what is rendered for him while the
    update is handled (replies, alerts) is in it. Messages for a group or another person set their own."""

    def __init__(self, db: Database, default: str) -> None:
        self.db = db
        self.default = default

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        chosen = await org.language(self.db, user.id) if user is not None else None
        with use(chosen or self.default):
            return await handler(event, data)
