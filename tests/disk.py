"""A full disk for tests: SQLite starved with PRAGMA max_page_count on the bot's own connection."""

from __future__ import annotations

import sqlite3

from storage.db import Database

ROOM = 1_073_741_823  # SQLite's default max_page_count


async def fill(db: Database) -> None:
    """From now on nothing that needs a new page in the file can be written: the file may not grow, and the
    free pages inside it are taken (by rows in storage_probe, which the bot's own probe empties)."""
    async with db._lock:  # between the bot's transactions, not inside one
        (pages,) = await (await db.conn.execute("PRAGMA page_count")).fetchone()  # type: ignore[misc]
        await db.conn.execute(f"PRAGMA max_page_count={pages}")
        size = 1 << 16
        while size >= 16:
            try:
                await db.conn.execute("INSERT INTO storage_probe(data) VALUES (zeroblob(?))", (size,))
            except sqlite3.OperationalError:
                size //= 2


async def free(db: Database) -> None:
    """Room again (the bot finds out by itself, with its probe)."""
    await db.conn.execute(f"PRAGMA max_page_count={ROOM}")
