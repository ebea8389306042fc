"""Keeping the command menus up to date while the bot runs."""

from __future__ import annotations

import asyncio
import contextlib

from aiogram import Bot

from bot.menus import setup_menus
from bot.service import Service
from bot.settings import Settings
from storage.db import Database


class Menus:
    """Re-sets the command menus after the organisation changes (someone joined, was removed, a group was
    bound), in the background, one run at a time; a change during a run runs it once more."""

    def __init__(self, bot: Bot, db: Database, settings: Settings, service: Service) -> None:
        self.bot, self.db, self.settings, self.service = bot, db, settings, service
        self._task: asyncio.Task[None] | None = None
        self._again = False

    def refresh(self) -> None:
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self._again = False
            await setup_menus(self.bot, self.db, self.settings, self.service.profile)
            if not self._again:
                return

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
