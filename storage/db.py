"""The SQLite database: one connection, WAL, migrations by PRAGMA user_version, one transaction per use case.

Times are stored as UTC ISO strings ('2026-11-23T07:00:00+00:00'); they sort and compare as text.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from storage.migrations import MIGRATIONS


def to_db(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}")
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def from_db(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class Database:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        # One connection serves every task (handlers, the sender, the scheduler): transactions take
        # turns, or one task's BEGIN would land inside another's.
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path | str) -> Database:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        conn.row_factory = sqlite3.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=5000")
        db = cls(conn)
        await db.migrate()
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
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any error: all of a use case or nothing."""
        async with self._lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            else:
                await self.conn.execute("COMMIT")

    async def write(self, sql: str, params: tuple | dict = ()) -> None:
        """One statement in a transaction of its own."""
        async with self.transaction() as conn:
            await conn.execute(sql, params)

    async def fetchone(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        return await (await self.conn.execute(sql, params)).fetchone()

    async def fetchall(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        return list(await (await self.conn.execute(sql, params)).fetchall())


async def _execute_script(conn: aiosqlite.Connection, script: str) -> None:
    """Statement by statement, inside the caller's transaction (executescript would commit)."""
    for statement in script.split(";\n"):
        if statement.strip():
            await conn.execute(statement)
