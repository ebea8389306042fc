"""Building and running the bot: settings → Bot, Dispatcher, routers; the inbox, the sender, the scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import Default, DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import BaseRequestMiddleware
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import ClientDecodeError, TelegramAPIError, TelegramNetworkError
from aiogram.methods.base import TelegramMethod
from aiogram.types import Message
from aiohttp import ClientError, JsonPayload

from bot.admins import administrators
from bot.aio import wait_any
from bot.backup import start_retention, stop_retention
from bot.clock import Clock, SystemClock
from bot.group_door import TelegramDoor
from bot.inbox import Inbox
from bot.menus_refresh import Menus
from bot.people import invite_link, owner_invite
from bot.reminders import Reminders
from bot.scheduler import Scheduler
from bot.sender import FROM_OUTBOX, RateLimiter, Sender
from bot.service import Service
from bot.settings import Settings, SettingsError, load_settings
from bot.storage_alarm import StorageAlarm
from handlers import build_router
from handlers.middlewares import UserLanguage
from profiles.loader import ProfileError, load_profile
from storage import outbox
from storage.db import Database, UnusableDatabase

log = logging.getLogger("bot")


class Session(AiohttpSession):
    """aiogram's HTTP session, keeping the HTTP status on every error: a 502 page that is not JSON is a server
    error to retry, a 200 that cannot be read is not (bot/outcomes.py). A call without files goes as a JSON body
    (the Bot API takes application/json): percent-encoding a Russian text byte by byte into a form cost more CPU
    than the rest of the request."""

    def build_form_data(self, bot: Bot, method: Any) -> Any:
        files: dict[str, Any] = {}
        body = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if prepared is None or prepared == "":  # what a form leaves out, too
                continue
            body[key] = int(prepared) if isinstance(value, datetime | timedelta) else prepared
        if files:  # an upload: multipart, as aiogram builds it
            return super().build_form_data(bot, method)
        return JsonPayload(body, dumps=self.json_dumps)

    def check_response(self, bot: Bot, method: Any, status_code: int, content: str) -> Any:
        if FROM_OUTBOX.get() and (raw := self._success(status_code, content)) is not None:
            # The outbox keeps Telegram's answer as JSON: no aiogram object is built only to be dumped again
            # (validating a Message was a tenth of the bot's CPU). An error goes the usual way.
            return raw
        try:
            return super().check_response(bot, method, status_code, content)
        except (TelegramAPIError, ClientDecodeError) as e:
            e.status_code = status_code  # type: ignore[attr-defined]
            raise

    async def post_json(self, bot: Bot, method: type[TelegramMethod[Any]], payload: dict[str, Any],
                        timeout: float | None = None) -> Any:
        """A call whose parameters are JSON already (the outbox's), posted as they are with aiogram's defaults
        for the method's own fields (the bot's parse_mode), its answer kept as JSON: no aiogram object is built,
        validated and dumped again only to be posted (a fifth of the CPU of a call). A failure raises what
        ``make_request`` raises (the method object, unvalidated, only then built to name the method)."""
        body = {**self._defaults(bot, method), **payload}
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(url, data=JsonPayload(body, dumps=self.json_dumps),
                                    timeout=self.timeout if timeout is None else timeout) as resp:
                raw = await resp.text()
        except TimeoutError as e:
            raise TelegramNetworkError(method=method.model_construct(**payload), message="Request timeout error") from e
        except ClientError as e:
            raise TelegramNetworkError(method=method.model_construct(**payload),
                                       message=f"{type(e).__name__}: {e}") from e
        if (success := self._success(resp.status, raw)) is not None:
            return success.result
        return self.check_response(bot, method.model_construct(**payload), resp.status, raw).result  # raises

    def _success(self, status_code: int, content: str) -> RawResult | None:
        """Telegram's answer to a call that succeeded, as plain JSON; None for anything else."""
        if status_code != HTTPStatus.OK:
            return None
        with contextlib.suppress(ValueError):
            data = self.json_loads(content)
            if isinstance(data, dict) and data.get("ok") is True and "result" in data:
                return RawResult(data["result"])
        return None

    def _defaults(self, bot: Bot, method: type[TelegramMethod[Any]]) -> dict[str, Any]:
        """The method's parameters that default to the bot's properties (parse_mode…), as aiogram sends them."""
        names = _DEFAULTED.get(method)
        if names is None:
            names = _DEFAULTED[method] = {key: f.default.name for key, f in method.model_fields.items()
                                          if isinstance(f.default, Default)}
        values = {key: self.prepare_value(bot.default[name], bot=bot, files={}, _dumps_json=False)
                  for key, name in names.items()}
        return {key: value for key, value in values.items() if value is not None}


_DEFAULTED: dict[type, dict[str, str]] = {}  # a method class -> its parameters that default to the bot's


@dataclass(frozen=True)
class RawResult:
    """What ``AiohttpSession.make_request`` reads from a response: its ``result``, here plain JSON."""

    result: Any


class RememberDirectMessages(BaseRequestMiddleware):
    """A message a handler posts into a group itself (not through the outbox) has its number kept, so the
    sender can tell a duplicate by its number after a crash (storage.outbox.last_message_id)."""

    def __init__(self, db: Database, clock: Clock, limiter: RateLimiter | None = None) -> None:
        self.db, self.clock, self.limiter = db, clock, limiter

    async def __call__(self, make_request: Any, bot: Bot, method: Any) -> Any:
        result = await make_request(bot, method)
        if not FROM_OUTBOX.get() and isinstance(result, Message) and self.limiter is not None:
            # Telegram counts it against the chat's (and group's) budget: so does the sender
            self.limiter.record(result.chat.id, self.limiter.monotonic(), overall=False)
        if not FROM_OUTBOX.get() and isinstance(result, Message) and result.chat.id < 0:
            with contextlib.suppress(Exception):  # bookkeeping: never in the way of the reply
                await outbox.remember_direct(self.db, result.chat.id, result.message_id, self.clock.now())
        return result


def build_bot(settings: Settings) -> Bot:
    session = Session(api=TelegramAPIServer.from_base(settings.telegram_api_url)) \
        if settings.telegram_api_url else Session()
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
    inbox: Inbox
    alarm: StorageAlarm
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _stopped: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def create(cls, settings: Settings, clock: Clock | None = None,
                     limiter: RateLimiter | None = None) -> App:
        clock = clock or SystemClock()
        db = await Database.open(settings.database_path)
        bot = build_bot(settings)
        limiter = limiter or RateLimiter()
        bot.session.middleware(RememberDirectMessages(db, clock, limiter))
        admins = administrators(db, frozenset(settings.admin_ids), settings.bot_language)
        sender = Sender(bot, db, clock, limiter, admins=admins, language=settings.bot_language)
        service = Service(db, clock, settings.profiles_dir, frozenset(settings.admin_ids), settings.default_profile,
                          language=settings.bot_language)
        reminders = Reminders(service)
        scheduler = Scheduler(reminders, sender, clock)
        menus = Menus(bot, db, settings, service)
        dp = Dispatcher(settings=settings, db=db, clock=clock, service=service, sender=sender, scheduler=scheduler,
                        menus=menus, door=TelegramDoor(bot))
        dp.update.outer_middleware(UserLanguage(db, settings.bot_language))
        dp.include_router(build_router())
        alarm = StorageAlarm(bot, db, admins, settings.bot_language)
        inbox = Inbox(bot, dp, db, clock, alarm)
        return cls(settings, clock, db, bot, sender, service, reminders, scheduler, dp, inbox, alarm)

    async def run(self, handle_signals: bool = True) -> int:
        """Until stopped (``stop()``, SIGTERM, SIGINT): the inbox, the sender, the scheduler. Returns the exit
        code: 0, or 1 when the database file was deleted or replaced under the bot."""
        self._stop.clear()
        self._stopped.clear()
        signals = _on_signals(self._stop.set) if handle_signals else []
        retention = None
        owner = None
        try:
            await self.sender.start()
            self.scheduler.start()
            self.alarm.start()
            # Menus are a nicety: set in the background, so a restart serves updates at once.
            self.dp["menus"].refresh()
            owner = asyncio.create_task(announce_owner_invite(self.bot, self.service, self.settings))
            try:
                await self.bot.delete_webhook(drop_pending_updates=False)
            except TelegramAPIError as e:  # Telegram unreachable: polling retries by itself
                log.warning("deleteWebhook failed (%s); polling anyway", e)
            retention = await start_retention(self.db, self.clock, self.settings.retention_days,  # now, then hourly
                                              profile_of=self.service.profile)
            self.inbox.start()
            await wait_any(self._stop, self.db.broken)
        finally:
            # In this order: take no more updates (those being handled finish), stop the timers, let the call
            # in flight finish and record it; the HTTP session and the database are closed by close().
            await self.inbox.stop()
            if owner is not None:
                owner.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await owner
            await self.dp["menus"].close()
            await stop_retention(retention)
            await self.scheduler.stop()
            await self.sender.stop()
            await self.alarm.stop()
            for sig in signals:
                asyncio.get_running_loop().remove_signal_handler(sig)
            self._stopped.set()
        if self.db.gone is not None:
            await self._rescue()
            return 1
        return 0

    async def stop(self) -> None:
        """Stop as a SIGTERM does, and wait until it has: no update is taken after this returns."""
        self._stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), 30)

    async def close(self) -> None:
        await self.bot.session.close()
        await self.db.close()

    async def _rescue(self) -> None:
        """The file is gone (or another took its place) but this connection still sees the old one: copy it out
        before the process lets it go for good."""
        path = self.settings.database_path
        target = path.with_name(f"{path.name}.rescued-{self.clock.now():%Y%m%dT%H%M%S}")
        try:
            await self.db.rescue(target)
            saved = f"what it held is saved to {target}: check it and put it back in place before starting again"
        except Exception as e:
            saved = f"it could not be saved ({e})"
        log.critical("STOPPED: %s; %s.", self.db.gone, saved)


def _on_signals(stop: Any) -> list[signal.Signals]:
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop)
            installed.append(sig)
    return installed


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
                limiter: RateLimiter | None = None) -> int:
    app = await App.create(settings, clock, limiter)
    try:
        return await app.run(handle_signals)
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
    try:
        return asyncio.run(serve(settings))
    except UnusableDatabase as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
