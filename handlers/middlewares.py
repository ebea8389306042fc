"""Outer middlewares: each update is handled in the language of the person it comes from. (That an update is
handled once, even if Telegram gives it again, is the inbox's business: bot/inbox.py.)"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, User

from bot.i18n import use
from storage import org
from storage.db import Database


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
