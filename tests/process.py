"""The bot as a deployer runs it — ``python -m bot`` in a process of its own — against the emulator in the test's
process, so a test can kill -9 it or send SIGTERM at a chosen moment, as a crash or a supervisor would.

    async with ProcessWorld.start(tmp_path) as w:
        await w.bot.start()
        w.tg.send_text(w.people["coordinator"], "/help")
        await w.bot.kill()          # kill -9
        await w.bot.start()         # the same database
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from bot.org_file import import_org, read_org_file
from emulator import Chat, TelegramEmulator, User
from storage.db import Database

ROOT = Path(__file__).resolve().parents[1]
ORG_FILE = Path(__file__).parent / "data" / "org-example.toml"
PEOPLE = {"coordinator": 100001, "substitute": 100002, "zhkh": 200001, "roads": 200002, "controller": 100003,
          "stranger": 999999}


@dataclass
class BotProcess:
    tg: TelegramEmulator
    folder: Path
    env: dict[str, str]
    proc: asyncio.subprocess.Process | None = None
    runs: int = 0
    codes: list[int] = field(default_factory=list)

    @property
    def database(self) -> Path:
        return Path(self.env["DATABASE_PATH"])

    def log(self, run: int | None = None) -> str:
        """What the process wrote to stderr (its log), the last run by default."""
        path = self.folder / f"bot-{self.runs if run is None else run}.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    async def start(self, *, wait: bool = True) -> None:
        """Start ``python -m bot``; by default wait until it polls (it serves updates)."""
        assert self.proc is None or self.proc.returncode is not None, "already running"
        self.runs += 1
        log = (self.folder / f"bot-{self.runs}.log").open("wb")
        polls = self.tg.updates._generation  # getUpdates calls begun so far (a killed process's may still wait)
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=self.folder, env=self.env, stdout=log, stderr=log)
        log.close()
        if wait:
            await self.tg.wait_for(lambda: self.tg.updates._generation > polls or self.proc.returncode is not None,
                                   timeout=30, what="the bot to poll")

    async def kill(self) -> None:
        """kill -9: no chance to finish anything."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGKILL)
        self.codes.append(await self.proc.wait())

    async def terminate(self, timeout: float = 20) -> int:
        """SIGTERM, as a supervisor stops a service; the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        self.codes.append(code)
        return code

    async def wait(self, timeout: float = 20) -> int:
        assert self.proc is not None
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        self.codes.append(code)
        return code

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def query(self, sql: str, *params: object) -> list[tuple]:
        with contextlib.closing(sqlite3.connect(self.database)) as conn:
            return conn.execute(sql, params).fetchall()


@dataclass
class ProcessWorld:
    tg: TelegramEmulator
    people: dict[str, User]
    group: Chat
    bot: BotProcess

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, tmp_path: Path, *, forum: bool = True, **env: str) -> AsyncIterator[ProcessWorld]:
        async with TelegramEmulator(privacy_mode=False) as tg:
            database = tmp_path / "data" / "bot.sqlite3"
            db = await Database.open(database)
            await import_org(db, read_org_file(ORG_FILE))
            await db.close()
            people = {k: tg.create_user(k.capitalize(), user_id=v, started=True) for k, v in PEOPLE.items()}
            group = tg.create_supergroup("Инцидент-менеджмент", forum=forum, members=list(people.values()),
                                         owner=people["coordinator"], bot_status="administrator",
                                         bot_rights={"can_manage_topics": True, "can_delete_messages": True,
                                                     "can_pin_messages": True})
            child_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
                         "PYTHONPATH": str(ROOT), "BOT_TOKEN": tg.token, "TELEGRAM_API_URL": tg.base_url,
                         "DATABASE_PATH": str(database), "ADMIN_IDS": str(PEOPLE["coordinator"]),
                         "LOG_LEVEL": "INFO", **env}
            process = BotProcess(tg, tmp_path, child_env)
            try:
                yield cls(tg, people, group, process)
            except BaseException:
                for run in range(1, process.runs + 1):  # shown by pytest with the failure
                    print(f"--- the bot's log, run {run} ---\n{process.log(run)}")
                raise
            finally:
                if process.running:
                    await process.kill()
