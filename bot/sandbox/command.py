"""`python -m bot sandbox`: checks the options, then serves the page (bot/sandbox/server.py)."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from bot.sandbox import DEFAULT_DATABASE, Options, is_sandbox_database
from bot.settings import ToolSettings
from profiles.loader import ProfileError, load_profile


def cli_sandbox(args: argparse.Namespace, profiles_dir: Path | None) -> int:
    tools = ToolSettings()
    name = args.profile or tools.default_profile
    database = args.database or DEFAULT_DATABASE
    try:
        profile = load_profile(name, profiles_dir)
    except ProfileError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if database.resolve() == tools.database_path.resolve():
        print(f"error: the sandbox never uses the bot's database ({tools.database_path}); give it another "
              "file with --database", file=sys.stderr)
        return 2
    if not is_sandbox_database(database):
        print(f"error: {database} exists and is not a sandbox database (the sandbox empties its file at each "
              "start); give it another file with --database", file=sys.stderr)
        return 2
    start = None
    if args.start:
        try:
            start = datetime.fromisoformat(args.start)
        except ValueError:
            print(f"error: --start: not a time like 2026-11-23T10:00: {args.start!r}", file=sys.stderr)
            return 2
        start = start.replace(tzinfo=profile.tz) if start.tzinfo is None else start
    if not 0 <= args.port <= 65535:
        print(f"error: --port: {args.port} is not a port", file=sys.stderr)
        return 2
    from bot.sandbox.server import run

    return run(Options(profile=profile.id, database=database, start=start, profiles_dir=profiles_dir), args.port)
