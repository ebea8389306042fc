"""A whole bot against the Bot API emulator: the real aiogram stack, a real SQLite file, the real sender.

    async with Scenario.start(tmp_path) as s:
        s.tg.send_text(s.coordinator, "…")
        await s.settle()
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.app import App
from bot.clock import FakeClock, RunningClock
from bot.org_file import import_org, read_org_file
from bot.sender import RateLimiter
from bot.settings import Settings
from emulator import TelegramEmulator
from storage.db import Database, to_db
from tests.status_keys import check_file

ORG_FILE = Path(__file__).parent / "data" / "org-example.toml"
START = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # Monday 10:00 in Moscow
FULL_RIGHTS = {"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": True,
               "can_invite_users": True, "can_restrict_members": True}


@dataclass
class Scenario:
    tg: TelegramEmulator
    settings: Settings
    clock: FakeClock | RunningClock
    task: asyncio.Task[None] | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, tmp_path: Path, *, forum: bool = True, org: bool = True, org_file: Path = ORG_FILE,
                    start: datetime = START, admin_ids: tuple[int, ...] = (100001,),
                    bot_in_group: bool = True, bot_rights: dict[str, bool] | None = None,
                    profiles_dir: Path | None = None, clock: RunningClock | None = None) -> AsyncIterator[Scenario]:
        """``org=False, admin_ids=(), bot_in_group=False``: a fresh install, as a deployer finds it. The bot is an
        administrator with every right the README asks for, unless ``bot_rights`` says otherwise.
        ``profiles_dir``: profiles of the test's own (PROFILES_DIR), besides the built-in ones.
        ``clock``: time that runs by itself (the scheduler alone decides when to speak), else a FakeClock."""
        async with TelegramEmulator(privacy_mode=False) as tg:
            settings = Settings(bot_token=tg.token, telegram_api_url=tg.base_url,
                                database_path=tmp_path / "bot.sqlite3", admin_ids=list(admin_ids),
                                profiles_dir=profiles_dir)
            if org:
                db = await Database.open(settings.database_path)
                await import_org(db, read_org_file(org_file, profiles_dir=profiles_dir))
                await db.close()
            s = cls(tg, settings, clock or FakeClock(start))
            s.users()
            s.group = tg.create_supergroup("Инцидент-менеджмент", forum=forum, members=list(s.people.values()),
                                           owner=s.people["coordinator"],
                                           bot_status="administrator" if bot_in_group else None,
                                           bot_rights=FULL_RIGHTS if bot_rights is None else bot_rights)
            await s.run()
            try:
                yield s
            finally:
                await s.stop()

    def users(self) -> None:
        ids = {"coordinator": 100001, "substitute": 100002, "zhkh": 200001, "roads": 200002,
               "controller": 100003, "stranger": 999999}
        self.people = {k: self.tg.create_user(k.capitalize(), user_id=v, started=True) for k, v in ids.items()}

    async def run(self) -> None:
        # pacing is tested on its own; here it would only make the scenarios slow
        fast = RateLimiter(chat_interval=0.0, group_per_minute=10_000, global_per_second=10_000)
        self.app = await App.create(self.settings, self.clock, limiter=fast)
        self.task = asyncio.create_task(self.app.run(handle_signals=False))

    async def stop(self) -> None:
        """A graceful stop, as SIGTERM does: no more updates taken, the call in flight finished."""
        if self.task is not None:
            await self.app.stop()
            self.task.cancel()  # already done, unless the stop hung
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            await self.app.close()
            self.task = None

    async def restart(self) -> None:
        await self.stop()
        await self.run()

    async def at(self, moment: datetime) -> None:
        """Move the clock there and let the scheduler do what is due by then (then deliver it)."""
        self.clock.set(moment)
        await self.app.reminders.tick()
        self.app.sender.wake()
        await self.settle()

    async def settle(self) -> None:
        """Every update handed to the bot is handled, and every due outbox row delivered (or given up)."""
        for _ in range(100):
            await self.tg.settle(quiet=0.05, timeout=10)
            delivered = {u["update_id"] for u in self.tg.updates.delivered}
            if delivered <= self.processed() and not self.app.inbox.busy and self.pending() == 0:
                await self.tg.settle(quiet=0.05, timeout=10)
                if self.pending() == 0:
                    check_file(self.settings.database_path, self.settings.profiles_dir)  # /status's keys
                    return
            await asyncio.sleep(0.05)
        raise AssertionError(f"not settled: {self.pending()} outbox rows pending")

    def _query(self, sql: str, *params: object) -> list[tuple]:
        with contextlib.closing(sqlite3.connect(self.settings.database_path)) as conn:
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.OperationalError:  # the bot has not created its tables yet
                return []

    def processed(self) -> set[int]:
        return {r[0] for r in self._query("SELECT update_id FROM processed_updates")}

    def pending(self) -> int:
        rows = self._query("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL "
                           "AND not_before <= ?", to_db(self.clock.now()))
        return rows[0][0] if rows else 0

    def __getattr__(self, name: str):  # s.coordinator, s.zhkh, …
        people = self.__dict__.get("people", {})
        if name in people:
            return people[name]
        raise AttributeError(name)
