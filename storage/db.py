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

Two connections to the one file. The hot path — the short, indexed statements every update, call and tick makes —
runs in the event loop's own thread (``Connection``, with aiosqlite's async surface): such a statement takes
microseconds, and handing each to a worker thread and back cost 10–20 times that in CPU, half of all the CPU an
update needed (benchmarks/bench_throughput.py). Nothing on it waits inside SQLite for a lock: its busy timeout is
zero and a statement that finds the database locked is tried again after an ``asyncio.sleep`` (up to
``BUSY_TIMEOUT`` seconds, then SQLITE_BUSY is raised as before), so the loop goes on meanwhile. Work that may take
long — scans over every incident (the monthly report), retention's deletes, the write-ahead log's checkpoints —
goes to an aiosqlite connection (``slow``), in aiosqlite's worker thread, so that no chat waits for it: ``scan``,
``slow_transaction``, ``checkpoint``. The two take turns on the file through SQLite's own locking; under WAL a
reader never blocks the writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from storage.migrations import MIGRATIONS

T = TypeVar("T")
BUSY_TIMEOUT = 5.0  # s a statement waits for another process's lock on the file, then SQLITE_BUSY is raised
CHECKPOINT_EVERY = 200  # commits on the hot path between two checkpoints of the write-ahead log (off the loop)

# SQLite's answers that mean "the storage itself fails" rather than "this statement is wrong".
_STORAGE_ERRORS = ("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_CORRUPT",
                   "SQLITE_NOTADB", "SQLITE_PERM")


def to_db(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}")
    return _utc_text(int(moment.timestamp() // 1))


@functools.lru_cache(maxsize=256)  # the same few seconds (a use case's "now") are written into many rows
def _utc_text(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).isoformat(timespec="seconds")


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


class Cursor:
    """A statement's result, with aiosqlite's async surface (the rows are read in this thread)."""

    __slots__ = ("_cursor", "lastrowid", "rowcount")

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor
        self.rowcount, self.lastrowid = cursor.rowcount, cursor.lastrowid

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()


class Connection:
    """A sqlite3 connection used from the event loop's thread, with the part of aiosqlite's interface the storage
    functions use (``await conn.execute(...)``, ``fetchone``, ``execute_fetchall``, ``executemany``…)."""

    def __init__(self, conn: sqlite3.Connection, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self._conn = conn
        self.busy_timeout = busy_timeout

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    @property
    def row_factory(self) -> Any:
        return self._conn.row_factory

    @row_factory.setter
    def row_factory(self, factory: Any) -> None:
        self._conn.row_factory = factory

    async def _run(self, call: Callable[[], T]) -> T:
        """``call()``; when another process holds the lock, again after a pause, up to ``busy_timeout`` seconds.
        (A statement that finds the database busy has done nothing: trying it again is safe.)"""
        try:
            return call()
        except sqlite3.OperationalError as e:
            if not getattr(e, "sqlite_errorname", "").startswith("SQLITE_BUSY"):
                raise
        deadline, pause = time.monotonic() + self.busy_timeout, 0.002
        while True:
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)
            try:
                return call()
            except sqlite3.OperationalError as e:
                if not getattr(e, "sqlite_errorname", "").startswith("SQLITE_BUSY") or time.monotonic() > deadline:
                    raise

    async def execute(self, sql: str, parameters: Any = None) -> Cursor:
        params = () if parameters is None else parameters
        return Cursor(await self._run(lambda: self._conn.execute(sql, params)))

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> Cursor:
        rows = list(parameters)
        return Cursor(await self._run(lambda: self._conn.executemany(sql, rows)))

    async def execute_fetchall(self, sql: str, parameters: Any = None) -> list[Any]:
        params = () if parameters is None else parameters
        return await self._run(lambda: self._conn.execute(sql, params).fetchall())

    async def backup(self, target: sqlite3.Connection) -> None:
        self._conn.backup(target)

    async def set_trace_callback(self, handler: Callable[[str], object] | None) -> None:
        self._conn.set_trace_callback(handler)

    async def close(self) -> None:
        self._conn.close()


class Database:
    def __init__(self, conn: Connection, path: Path | None = None, slow: aiosqlite.Connection | None = None) -> None:
        self.conn = conn
        self.slow = slow  # aiosqlite, for work that may take long (None in memory: the one connection does it)
        self._commits = 0  # on the hot path since the last checkpoint
        self._checkpointing: asyncio.Task | None = None
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
            conn = Connection(sqlite3.connect(str(path), isolation_level=None))
        except (OSError, ValueError, sqlite3.Error) as e:
            raise UnusableDatabase(f"database {path}: {_reason(e)}") from None
        try:
            conn.row_factory = sqlite3.Row
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA busy_timeout=0")  # never wait inside SQLite, blocking the loop: Connection._run
            if not memory:  # the log is checkpointed by the slow connection (checkpoint), not at some commit here
                await conn.execute("PRAGMA wal_autocheckpoint=0")
            db = cls(conn, None if memory else Path(path))
            await db.migrate()
            await db.probe()  # a database we may read but not write is no use: say so now, not at the first forward
            if not memory:
                db.slow = await _connect_slow(Path(path))
        except BaseException as e:
            await conn.close()
            if isinstance(e, sqlite3.Error | OSError):
                raise UnusableDatabase(f"database {path}: {_reason(e)}") from None
            raise
        return db

    async def close(self) -> None:
        if self._checkpointing is not None:
            with contextlib.suppress(Exception):
                await self._checkpointing
        if self.slow is not None:
            await self.slow.close()  # else aiosqlite's thread keeps the process alive
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
    async def transaction(self, *, mark_update: bool = True) -> AsyncIterator[Connection]:
        """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any error: all of a use case or nothing.

        While an update from the inbox is being handled (``HANDLING``), the commit also marks it handled:
        its effects and the mark are one commit, so a crash can neither lose nor repeat them. (``mark_update``
        False: bookkeeping that is not the use case's effect.)"""
        async with self._lock:
            handling = _handling() if mark_update else None
            async with self._immediate(self.conn, handling) as conn:
                yield conn
            if handling is not None:
                handling.marked = True
            self._committed()

    @contextlib.asynccontextmanager
    async def _immediate(self, conn: Connection | aiosqlite.Connection,
                         handling: HandlingUpdate | None = None) -> AsyncIterator[Any]:
        """BEGIN IMMEDIATE … (the update's mark) COMMIT on ``conn``, or ROLLBACK on any error."""
        self.check_file()
        try:
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                if handling is not None:
                    await conn.execute("UPDATE inbox SET handled_at = ? WHERE update_id = ? AND handled_at IS NULL",
                                       (handling.at, handling.update_id))
            except BaseException:
                if conn.in_transaction:  # SQLite rolls back by itself on a full disk
                    await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")
        except Exception as e:
            if self._check_failure(e):
                with contextlib.suppress(sqlite3.Error):
                    if conn.in_transaction:  # a failed COMMIT leaves the transaction open
                        await conn.execute("ROLLBACK")
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
                changed = (await self.conn.execute(sql, params)).rowcount
            except Exception as e:
                self._check_failure(e)
                raise
            self._committed()
            return changed

    def _check_failure(self, e: Exception) -> bool:
        """A write failed: if the storage is at fault (a full disk...), the bot knows it is failing (True)."""
        reason = storage_failure(e)
        if reason and not isinstance(e, DatabaseGone):
            self._failed(reason)
            return True
        return False

    async def fetchone(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        return next(iter(await self.conn.execute_fetchall(sql, params)), None)

    async def fetchall(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        return list(await self.conn.execute_fetchall(sql, params))

    # --- work that may take long: in aiosqlite's thread, the loop goes on -------------------------------------

    async def scan(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        """A read that may visit many rows (a month of incidents, every person): on the slow connection. It sees
        what is committed, not a transaction in progress on the hot path."""
        if self.slow is None:
            return await self.fetchall(sql, params)
        return list(await self.slow.execute_fetchall(sql, params))

    @contextlib.asynccontextmanager
    async def slow_transaction(self) -> AsyncIterator[aiosqlite.Connection | Connection]:
        """BEGIN IMMEDIATE … COMMIT on the slow connection, for a write that may take long (retention): the hot
        path's writes meanwhile wait without blocking the loop. Never marks an update handled."""
        if self.slow is None:
            async with self.transaction(mark_update=False) as conn:
                yield conn
            return
        async with self._immediate(self.slow) as conn:
            yield conn

    async def checkpoint(self, mode: str = "PASSIVE") -> None:
        """Copy the write-ahead log into the file (``TRUNCATE``: and empty it), on the slow connection."""
        if mode not in ("PASSIVE", "FULL", "RESTART", "TRUNCATE"):
            raise ValueError(mode)
        conn = self.slow if self.slow is not None else self.conn
        await conn.execute(f"PRAGMA wal_checkpoint({mode})")

    def _committed(self) -> None:
        """Every ``CHECKPOINT_EVERY`` commits on the hot path, a checkpoint in the background (best effort: a busy
        log is copied next time). RESTART, not PASSIVE: under constant writes a passive checkpoint never reaches
        the log's end, so the log is never started again and grows by every page written (136 MB in 700 updates
        of the throughput benchmark, every read looking through it); RESTART holds the hot path's writes for the
        few ms it takes (they wait with asyncio.sleep, Connection._run)."""
        self._commits += 1
        if self.slow is None or self._commits < CHECKPOINT_EVERY:
            return
        if self._checkpointing is not None and not self._checkpointing.done():
            return
        self._commits = 0
        self._checkpointing = asyncio.get_running_loop().create_task(self._background_checkpoint())

    async def _background_checkpoint(self) -> None:
        try:
            await self.checkpoint("RESTART")
        except Exception as e:
            if not self._check_failure(e):
                logging.getLogger(__name__).warning("checkpoint of the write-ahead log failed: %s", e)

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
            copy = sqlite3.connect(str(target))
            try:
                await self.conn.backup(copy)
            finally:
                copy.close()

    def _failed(self, reason: str) -> None:
        self.failing = reason
        self.healthy.clear()


async def _connect_slow(path: Path) -> aiosqlite.Connection:
    slow = await aiosqlite.connect(str(path), isolation_level=None)
    try:
        slow.row_factory = sqlite3.Row
        for pragma in ("synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=5000"):  # it may wait: its own thread
            await slow.execute(f"PRAGMA {pragma}")
    except BaseException:
        await slow.close()
        raise
    return slow


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


async def _execute_script(conn: Connection, script: str) -> None:
    """Statement by statement, inside the caller's transaction (executescript would commit)."""
    for statement in script.split(";\n"):
        if statement.strip():
            await conn.execute(statement)
