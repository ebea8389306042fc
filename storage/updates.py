"""Updates already handled: Telegram may deliver one again after a crash."""

from __future__ import annotations

from datetime import datetime

from storage.db import Database, to_db


async def seen(db: Database, update_id: int) -> bool:
    return await db.fetchone("SELECT 1 FROM processed_updates WHERE update_id = ?", (update_id,)) is not None


async def mark(db: Database, update_id: int, now: datetime) -> None:
    await db.write("INSERT OR IGNORE INTO processed_updates(update_id, processed_at) VALUES (?, ?)",
                   (update_id, to_db(now)))
