"""The sandbox: the real bot against an embedded Bot API server, played in a browser on 127.0.0.1.

``python -m bot`` with no BOT_TOKEN, or ``python -m bot sandbox [--profile NAME] [--port 8080]``. The web
page (static/) shows each seeded person's Telegram — his chats, the group's topics, the bot's messages and
buttons — and lets one act as any of them and move the clock. Nothing leaves the machine: no Telegram.

Modules: server.py (the page and its JSON API; imports only aiohttp, so the page is up before the bot has
loaded), session.py (one run: the emulator, the bot's App, the seeded world; what a person sees and does),
world.py (the organisation seeded for a profile), samples.py (citizens' posts), render.py (entities to
HTML), clock.py (the movable clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

DEFAULT_DATABASE = Path("data/sandbox.sqlite3")
ORG_FILE_MARK = "# The sandbox's organisation"  # the first line of the organisation file beside its database
DEFAULT_PORT = 8080
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Options:
    profile: str
    database: Path = DEFAULT_DATABASE
    start: datetime | None = None  # the sandbox clock's first moment; None: now
    profiles_dir: Path | None = None


def org_path(database: Path) -> Path:
    """The organisation file the sandbox writes beside its database (and that marks the file as its own)."""
    return database.with_name(database.stem + "-org.toml")


def is_sandbox_database(database: Path) -> bool:
    """A file the sandbox may empty: absent, or made by the sandbox (its organisation file is beside it)."""
    if not database.exists():
        return True
    marker = org_path(database)
    return marker.is_file() and marker.read_text(encoding="utf-8").startswith(ORG_FILE_MARK)
