"""Building and running the bot: settings → Bot, Dispatcher, routers; long polling."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from dataclasses import dataclass

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError

from bot.backup import start_retention, stop_retention
from bot.clock import Clock, SystemClock
from bot.group_door import TelegramDoor
from bot.menus_refresh import Menus
from bot.people import invite_link, owner_invite
from bot.reminders import Reminders
from bot.scheduler import Scheduler
from bot.sender import RateLimiter, Sender
from bot.service import Service
from bot.settings import Settings, SettingsError, load_settings
from handlers import build_router
from handlers.middlewares import OncePerUpdate, UserLanguage
from profiles.loader import ProfileError, load_profile
from storage.db import Database

log = logging.getLogger("bot")


def build_bot(settings: Settings) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url)) \
        if settings.telegram_api_url else AiohttpSession()
    return Bot(settings.bot_token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


@dataclass
class App:
    """Everything one running bot is made of, over one database."""

    settings: Settings
    clock: Clock
    db: Database
    bot: Bot
    sender: Sender
    service: Service
    reminders: Reminders
    scheduler: Scheduler
    dp: Dispatcher

    @classmethod
    async def create(cls, settings: Settings, clock: Clock | None = None,
                     limiter: RateLimiter | None = None) -> App:
        clock = clock or SystemClock()
        db = await Database.open(settings.database_path)
        bot = build_bot(settings)
        sender = Sender(bot, db, clock, limiter)
        service = Service(db, clock, settings.profiles_dir, frozenset(settings.admin_ids), settings.default_profile,
                          language=settings.bot_language)
        reminders = Reminders(service)
        scheduler = Scheduler(reminders, sender, clock)
        menus = Menus(bot, db, settings, service)
        dp = Dispatcher(settings=settings, db=db, clock=clock, service=service, sender=sender, scheduler=scheduler,
                        menus=menus, door=TelegramDoor(bot))
        dp.update.outer_middleware(OncePerUpdate(db, clock))
        dp.update.outer_middleware(UserLanguage(db, settings.bot_language))
        dp.include_router(build_router())
        return cls(settings, clock, db, bot, sender, service, reminders, scheduler, dp)

    async def run(self, handle_signals: bool = True) -> None:
        """Until stopped: the outbox sender, the scheduler and long polling."""
        self.sender.start()
        self.scheduler.start()
        retention = None
        # Menus are a nicety: set in the background, so a restart serves updates at once.
        self.dp["menus"].refresh()
        owner = asyncio.create_task(announce_owner_invite(self.bot, self.service, self.settings))
        try:
            try:
                await self.bot.delete_webhook(drop_pending_updates=False)
            except TelegramAPIError as e:  # Telegram unreachable: polling retries by itself
                log.warning("deleteWebhook failed (%s); polling anyway", e)
            retention = await start_retention(self.db, self.clock, self.settings.retention_days)  # now, then hourly
            await self.dp.start_polling(self.bot, handle_signals=handle_signals, polling_timeout=10)
        finally:
            owner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await owner
            await self.dp["menus"].close()
            await stop_retention(retention)
            await self.scheduler.stop()
            await self.sender.stop()

    async def stop(self) -> None:
        """Stop polling as a SIGTERM would, so no update is taken after this returns."""
        with contextlib.suppress(RuntimeError):  # not polling
            await self.dp.stop_polling()

    async def close(self) -> None:
        await self.bot.session.close()
        await self.db.close()


async def announce_owner_invite(bot: Bot, service: Service, settings: Settings) -> str | None:
    """A fresh install without administrators: log a one-time link whose opener becomes the administrator
    (so nobody has to look up a user id). Returns the link, if one was logged."""
    token = await owner_invite(service, frozenset(settings.admin_ids))
    if token is None:
        return None
    try:
        username = (await bot.me()).username or "<bot>"
    except TelegramAPIError:
        username = "<bot username>"
    link = invite_link(username, token)
    log.warning("No administrator yet. Open this link in Telegram to become the bot's administrator "
                "(works once, for 7 days): %s", link)
    return link


async def serve(settings: Settings, clock: Clock | None = None, handle_signals: bool = True,
                limiter: RateLimiter | None = None) -> None:
    app = await App.create(settings, clock, limiter)
    try:
        await app.run(handle_signals)
    finally:
        await app.close()


def run() -> int:
    try:
        settings = load_settings()
        load_profile(settings.default_profile, settings.profiles_dir)
    except (SettingsError, ProfileError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings.database_path.parent.mkdir(parents=True, exist_ok=True)
    asyncio.run(serve(settings))
    return 0
