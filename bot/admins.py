"""Who hears about what the bot could not do: the bot's administrators (ADMIN_IDS and those made so in chat)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Awaitable, Callable

from storage import org
from storage.db import Database

Administrators = Callable[[], Awaitable[list[tuple[int, str]]]]


def administrators(db: Database, admin_ids: frozenset[int], default_language: str) -> Administrators:
    """A function giving [(user_id, language)] of the bot's administrators, read when needed (people may join)."""

    async def find() -> list[tuple[int, str]]:
        ids = set(admin_ids)
        with contextlib.suppress(sqlite3.Error):  # a failing disk still reads; if not, ADMIN_IDS alone
            ids |= {p.user_id for p in await org.people_with_role(db, org.ADMIN_ROLE, None)}
        found = []
        for user_id in sorted(ids):
            language = None
            with contextlib.suppress(sqlite3.Error):
                language = await org.language(db, user_id)
            found.append((user_id, language or default_language))
        return found

    return find
