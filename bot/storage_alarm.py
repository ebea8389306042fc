"""When the database cannot be written (disk full, an I/O error), the bot says so and waits; it never loops.

- The bot's administrators are told once when writing starts to fail, and once when it works again.
- Each person whose message or press could not be taken is told once (a press: an alert; a private message:
  a reply; in a group: one reply per group). Telegram keeps what was not taken (the offset is not confirmed),
  and the bot handles it when the disk has room again.
- While failing, a small write is tried every few seconds: when it passes, the parts that waited go on.
- The database file is checked every few seconds too: deleted or replaced under the bot, it stops the bot
  (``Database.broken``) even if nothing is being written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from html import escape

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Update

from bot.admins import Administrators
from bot.i18n import N_, _, use
from storage import org
from storage.db import Database, DatabaseGone

log = logging.getLogger(__name__)

PROBE_EVERY = 2.0  # seconds between tries of a small write while the disk is full
CHECK_FILE_EVERY = 2.0  # seconds between checks that the database file is still the one opened


class StorageAlarm:
    def __init__(self, bot: Bot, db: Database, admins: Administrators, language: str) -> None:
        self.bot = bot
        self.db = db
        self.admins = admins
        self.language = language
        self._told_updates: set[int] = set()
        self._told_groups: set[int] = set()
        self._task: asyncio.Task[None] | None = None
        self.probe_every = PROBE_EVERY

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="storage-alarm")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        checked = 0.0
        loop = asyncio.get_running_loop()
        while True:
            if loop.time() - checked >= CHECK_FILE_EVERY:
                checked = loop.time()
                with contextlib.suppress(DatabaseGone):  # it sets db.broken: the app stops
                    self.db.check_file()
            if self.db.failing is not None:
                await self._episode()
            await asyncio.sleep(0.25)

    async def _episode(self) -> None:
        """From the first failed write to the first that passes again."""
        reason = self.db.failing
        log.error("STORAGE FAILING: %s. The bot takes no new work until the database can be written; nothing "
                  "is lost (Telegram keeps the updates not taken). Free space on the disk; the bot goes on by itself.",
                  reason)
        await self._tell_admins(N_("⛔ Бот не может записывать в базу данных ({reason}): новые сообщения и нажатия "
                                  "не принимаются. Освободите место на диске — бот продолжит сам, ничего не "
                                  "потеряв."), reason=str(reason))
        while self.db.failing is not None:
            await asyncio.sleep(self.probe_every)
            try:
                self.db.check_file()
                await self.db.probe()
            except DatabaseGone:
                return
            except sqlite3.Error:
                continue
        log.warning("storage works again: taking new work")
        self._told_updates.clear()
        self._told_groups.clear()
        await self._tell_admins(N_("✅ База данных снова записывается: бот принимает сообщения и нажатия."))

    async def refuse(self, update: Update) -> None:
        """Tell the person once that what he sent could not be taken now (the storage fails)."""
        if update.update_id in self._told_updates:
            return
        self._told_updates.add(update.update_id)
        user = None
        if update.callback_query is not None:
            user = update.callback_query.from_user
        elif update.message is not None:
            user = update.message.from_user
        language = None
        if user is not None:
            with contextlib.suppress(sqlite3.Error):
                language = await org.language(self.db, user.id)
        with use(language or self.language):
            text = _("⏳ Бот сейчас не может принять это: на сервере закончилось место или сбоит диск. Администратор "
                     "уже знает. Ничего не потеряно: бот обработает это, когда место появится.")
        try:
            if update.callback_query is not None:
                await self.bot.answer_callback_query(update.callback_query.id, text[:200], show_alert=True)
            elif update.message is not None and update.message.chat.type == "private":
                await self.bot.send_message(update.message.chat.id, text)
            elif update.message is not None and update.message.chat.id not in self._told_groups:
                self._told_groups.add(update.message.chat.id)
                await self.bot.send_message(update.message.chat.id, text,
                                            message_thread_id=update.message.message_thread_id
                                            if update.message.is_topic_message else None)
        except TelegramAPIError as e:
            log.warning("could not tell about the storage failure: %s", e)

    async def _tell_admins(self, text: str, **values: str) -> None:
        """Straight to Telegram: the outbox is in the database that fails."""
        for admin, language in await self.admins():
            with use(language):
                rendered = _(text).format(**{k: escape(v) for k, v in values.items()})
            try:
                await self.bot.send_message(admin, rendered)
            except TelegramAPIError as e:
                log.warning("could not tell administrator %s: %s", admin, e)
