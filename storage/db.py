"""The SQLite database: one connection, WAL, migrations by PRAGMA user_version, one transaction per use case.

Times are stored as UTC ISO strings ('2026-11-23T07:00:00+00:00'); they sort and compare as text.

Failing storage is loud, never silent:
- a file that cannot be used at start (missing folder, read-only, not a database, a path under /proc) raises
  ``UnusableDatabase`` with one line saying why, and leaves no thread behind (the process can exit);
- a write that fails because the disk is full or the device fails sets ``failing`` (the reason) until a probe
  write needing new room passes; the parts of the bot wait on ``healthy`` instead of retrying in a loop
  (bot/storage_alarm.py);
- the file deleted or replaced under the running bot is noticed before the next write (``DatabaseGone``): the
  bot stops rather than write into a file nobody will ever open again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from storage.migrations import MIGRATIONS

# SQLite's answers that mean "the storage itself fails" rather than "this statement is wrong".
_STORAGE_ERRORS = ("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_CORRUPT",
                   "SQLITE_NOTADB", "SQLITE_PERM")


def to_db(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}")
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def from_db(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def storage_failure(error: BaseException) -> str | None:
    """Why the storage failed (disk full, I/O error, read-only...), or None for any other error."""
    if isinstance(error, DatabaseGone):
        return str(error)
    name = getattr(error, "sqlite_errorname", "") or ""
    if isinstance(error, sqlite3.Error) and name.startswith(_STORAGE_ERRORS):
        return f"{error} ({name})"
    return None


class UnusableDatabase(sqlite3.DatabaseError):
    """The database cannot be opened or written at start; the message is one line for the deployer."""


class DatabaseGone(Exception):
    """The database file was deleted or replaced while the bot had it open."""


@dataclass
class HandlingUpdate:
    """The update this task is handling (see storage/inbox.py): each transaction it commits marks it handled."""

    update_id: int
    at: str
    task: asyncio.Task | None
    marked: bool = False  # a transaction committed the mark


HANDLING: ContextVar[HandlingUpdate | None] = ContextVar("handling_update", default=None)


class Database:
    def __init__(self, conn: aiosqlite.Connection, path: Path | None = None) -> None:
        self.conn = conn
        # One connection serves every task (handlers, the sender, the scheduler): transactions take
        # turns, or one task's BEGIN would land inside another's.
        self._lock = asyncio.Lock()
        self.path = path
        self._identity = _identity(path) if path else None
        self.failing: str | None = None  # why the last write failed (disk full...), until one succeeds
        self.healthy = asyncio.Event()
        self.healthy.set()
        self.gone: DatabaseGone | None = None
        self.broken = asyncio.Event()  # set once the file is found deleted or replaced

    @classmethod
    async def open(cls, path: Path | str) -> Database:
        """Open (creating the file and its folder if needed), migrate and try one write; else
        UnusableDatabase with one line, and no connection left open."""
        memory = str(path) == ":memory:"
        try:
            if not memory:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                if Path(path).is_dir():
                    raise UnusableDatabase(f"database {path}: is a folder, not a file")
            # first without aiosqlite: its worker thread may outlive a failed connect and print to a closed loop
            sqlite3.connect(str(path)).close()
        except (OSError, ValueError, sqlite3.Error) as e:
            raise UnusableDatabase(f"database {path}: {_reason(e)}") from None
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA busy_timeout=5000")
            db = cls(conn, None if memory else Path(path))
            await db.migrate()
            await db.probe()  # a database we may read but not write is no use: say so now, not at the first forward
        except BaseException as e:
            await conn.close()  # else aiosqlite's thread keeps the process alive
            if isinstance(e, sqlite3.Error | OSError):
                raise UnusableDatabase(f"database {path}: {_reason(e)}") from None
            raise
        return db

    async def close(self) -> None:
        await self.conn.close()

    @classmethod
    @contextlib.asynccontextmanager
    async def opened(cls, path: Path | str) -> AsyncIterator[Database]:
        """For a command that opens the database, does one thing and closes it."""
        db = await cls.open(path)
        try:
            yield db
        finally:
            await db.close()

    async def migrate(self) -> int:
        """Apply the migrations this file has not seen yet; returns the schema version."""
        (version,) = await (await self.conn.execute("PRAGMA user_version")).fetchone()  # type: ignore[misc]
        if version >= len(MIGRATIONS):
            return version
        # A migration may rebuild a table (SQLite's 12-step ALTER): foreign keys are off meanwhile and
        # checked once at the end. The pragma is a no-op inside a transaction, so it is set outside.
        await self.conn.execute("PRAGMA foreign_keys=OFF")
        try:
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                async with self.transaction():
                    await _execute_script(self.conn, script)
                    broken = await self.fetchall("PRAGMA foreign_key_check")
                    if broken:
                        raise RuntimeError(f"migration {number} breaks foreign keys: {[tuple(r) for r in broken]}")
                    await self.conn.execute(f"PRAGMA user_version={number}")
        finally:
            await self.conn.execute("PRAGMA foreign_keys=ON")
        return len(MIGRATIONS)

    @contextlib.asynccontextmanager
    async def transaction(self, *, mark_update: bool = True) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any error: all of a use case or nothing.

        While an update from the inbox is being handled (``HANDLING``), the commit also marks it handled:
        its effects and the mark are one commit, so a crash can neither lose nor repeat them. (``mark_update``
        False: bookkeeping that is not the use case's effect.)"""
        async with self._lock:
            self.check_file()
            try:
                await self.conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self.conn
                    handling = _handling() if mark_update else None
                    if handling is not None:
                        await self.conn.execute(
                            "UPDATE inbox SET handled_at = ? WHERE update_id = ? AND handled_at IS NULL",
                            (handling.at, handling.update_id))
                except BaseException:
                    if self.conn.in_transaction:  # SQLite rolls back by itself on a full disk
                        await self.conn.execute("ROLLBACK")
                    raise
                await self.conn.execute("COMMIT")
                if handling is not None:
                    handling.marked = True
            except Exception as e:
                if self._check_failure(e):
                    with contextlib.suppress(sqlite3.Error):
                        if self.conn.in_transaction:  # a failed COMMIT leaves the transaction open
                            await self.conn.execute("ROLLBACK")
                raise

    async def write(self, sql: str, params: tuple | dict = ()) -> int:
        """One statement, all or nothing; returns the rows it changed. Outside an update's handling it is its own
        transaction (SQLite's autocommit: one trip to the database's thread instead of three); within, it
        commits the update's mark with it."""
        if _handling() is not None:
            async with self.transaction() as conn:
                return (await conn.execute(sql, params)).rowcount
        async with self._lock:  # never inside another coroutine's open transaction on this connection
            self.check_file()
            try:
                return (await self.conn.execute(sql, params)).rowcount
            except Exception as e:
                self._check_failure(e)
                raise

    def _check_failure(self, e: Exception) -> bool:
        """A write failed: if the storage is at fault (a full disk...), the bot knows it is failing (True)."""
        reason = storage_failure(e)
        if reason and not isinstance(e, DatabaseGone):
            self._failed(reason)
            return True
        return False

    # One trip to aiosqlite's thread per query (execute_fetchall), not two (execute, then fetch): the trip, not
    # the statement, is most of what a query on this small indexed database costs, and an update makes dozens.
    async def fetchone(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        return next(iter(await self.conn.execute_fetchall(sql, params)), None)

    async def fetchall(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        return list(await self.conn.execute_fetchall(sql, params))

    async def probe(self) -> None:
        """Write something that needs new room in the file, and take it back: raises if the disk is full,
        the file read-only or the device failing. Only this clears ``failing``: a small write that happens to fit
        proves nothing about the next one."""
        async with self.transaction() as conn:
            await conn.execute("INSERT INTO storage_probe(data) VALUES (zeroblob(16384))")
        async with self.transaction() as conn:
            await conn.execute("DELETE FROM storage_probe")
        if self.failing is not None:
            self.failing = None
            self.healthy.set()

    # --- the file under the bot ---------------------------------------------------------------------

    def check_file(self) -> None:
        """Raise DatabaseGone if the file at our path is no longer the one we opened (deleted, replaced)."""
        if self.gone is not None:
            raise self.gone
        if self.path is None or self._identity is None:
            return
        now = _identity(self.path)
        if now == self._identity:
            return
        what = "deleted" if now is None else "replaced by another file"
        self.gone = DatabaseGone(f"the database file {self.path} was {what} while the bot was running")
        self.broken.set()
        raise self.gone

    async def rescue(self, target: Path) -> None:
        """Copy what this connection still sees (the deleted or replaced file's content) to ``target``."""
        async with self._lock:
            copy = await aiosqlite.connect(str(target))
            try:
                await self.conn.backup(copy)
            finally:
                await copy.close()

    def _failed(self, reason: str) -> None:
        self.failing = reason
        self.healthy.clear()


def _handling() -> HandlingUpdate | None:
    """The update whose handling this task is (a task the handler started writes on its own)."""
    handling = HANDLING.get()
    return handling if handling is not None and handling.task is asyncio.current_task() else None


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _reason(error: BaseException) -> str:
    """One line: what the system or SQLite said."""
    if isinstance(error, OSError):
        return error.strerror or str(error)
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    if text == "unable to open database file":
        text = "cannot open or create the file (a missing or read-only folder, or not a place for files)"
    elif text == "attempt to write a readonly database":
        text = "read-only: the bot must be able to write it"
    return text


async def _execute_script(conn: aiosqlite.Connection, script: str) -> None:
    """Statement by statement, inside the caller's transaction (executescript would commit)."""
    for statement in script.split(";\n"):
        if statement.strip():
            await conn.execute(statement)
