"""Keeping the database: `python -m bot backup PATH` and personal data retention (`python -m bot retention`,
and hourly inside the running bot).

The backup is SQLite's online backup of one consistent moment, safe while the bot writes (WAL). It is
written next to its destination under a temporary name, checked, and only then given its name.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sqlite3
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import ValidationError

from bot.clock import Clock, SystemClock
from bot.settings import RetentionSettings, ToolSettings
from profiles.schema import Profile
from storage.db import Database
from storage.incidents import refresh_status
from storage.retention import Erased, erase, prune_delivered

log = logging.getLogger(__name__)

RETENTION_EVERY = timedelta(hours=1)
PRUNE_AFTER = timedelta(days=1)  # a delivered call keeps its payload and Telegram's answer this long
MAX_DAYS = 36500


class MaintenanceError(Exception):
    """Printed as one line; exit code 2."""


# --- backup -----------------------------------------------------------------------------------


def backup(source: Path, dest: Path, *, force: bool = False) -> int:
    """Copy the database at ``source`` to ``dest`` as one consistent moment; returns the copy's size in bytes."""
    if not source.is_file():
        raise MaintenanceError(f"no database at {source}")
    if dest.is_dir():
        raise MaintenanceError(f"{dest} is a folder: name the backup file")
    if dest.exists() and not force:
        raise MaintenanceError(f"{dest} exists: pass --force to overwrite it")
    if dest.exists() and dest.resolve() == source.resolve():
        raise MaintenanceError(f"{dest} is the database itself")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise MaintenanceError(f"cannot create {dest.parent}: {e.strerror or e}") from None
    tmp = dest.with_name(f".{dest.name}.part-{os.getpid()}")
    try:
        _copy(source, tmp)
        _put_in_place(tmp, dest, force)
    except sqlite3.Error as e:
        raise MaintenanceError(f"{source}: {e}") from None
    except OSError as e:
        raise MaintenanceError(f"cannot write {dest}: {e.strerror or e}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return dest.stat().st_size


def _copy(source: Path, tmp: Path) -> None:
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=rw", uri=True, timeout=30)  # never creates a file
    try:
        src.execute("PRAGMA busy_timeout=30000")
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)  # all pages in one step: one read transaction, one moment
            dst.execute("PRAGMA journal_mode=DELETE")  # the copy is one self-contained file
            (check,) = dst.execute("PRAGMA quick_check").fetchone()
            if check != "ok":
                raise sqlite3.DatabaseError(f"the copy failed its check: {check}")
        finally:
            dst.close()
    finally:
        src.close()


def _put_in_place(tmp: Path, dest: Path, force: bool) -> None:
    if force:
        os.replace(tmp, dest)
        return
    try:
        os.link(tmp, dest)  # fails if the name was taken meanwhile: nothing is overwritten
    except FileExistsError:
        raise MaintenanceError(f"{dest} exists: pass --force to overwrite it") from None
    except OSError:  # a file system without hard links
        if dest.exists():
            raise MaintenanceError(f"{dest} exists: pass --force to overwrite it") from None
        os.replace(tmp, dest)


def cli_backup(args: argparse.Namespace) -> int:
    """`backup PATH [--force] [--database DB]`: 0 written, 2 on any problem (one line)."""
    try:
        env = _env()
        database = args.database or env.database_path
        size = backup(database, args.path, force=args.force)
    except MaintenanceError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{args.path}: {_size(size)} ({size} bytes), a copy of {database}")
    return 0


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    value, unit = n / 1024, "KB"
    for bigger in ("MB", "GB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit}"


# --- retention --------------------------------------------------------------------------------


def cutoff(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)


async def apply_retention(db: Database, clock: Clock, days: int) -> Erased | None:
    """Erase personal data older than ``days`` (0: keep forever, nothing happens); logs what was erased."""
    if days <= 0:
        return None
    before = cutoff(clock.now(), days)
    erased = await erase(db, before)
    if erased.total:
        log.info("retention: erased the texts of %d closed incidents, %d drafts, %d awaited replies and "
                 "%d sent messages older than %s (%d days)", erased.incidents, erased.intakes, erased.awaited,
                 erased.outbox, before.date().isoformat(), days)
    else:
        log.debug("retention: nothing older than %s to erase", before.date().isoformat())
    return erased


async def start_retention(db: Database, clock: Clock, days: int, every: timedelta = RETENTION_EVERY,
                          profile_of: Callable[[str], Profile] | None = None) -> asyncio.Task[None]:
    """In the background (the task to stop): first /status's keys of open incidents whose profile changed are
    recomputed (``profile_of``: storage.incidents.refresh_status), then, now and every hour, delivered calls
    older than PRUNE_AFTER lose their payloads (storage.retention.prune_delivered) and, unless ``days`` is 0,
    personal data older than that is erased. Nothing here delays serving updates."""
    if days <= 0:
        log.info("retention: off (RETENTION_DAYS=0), personal data is kept")

    async def hourly() -> None:
        if profile_of is not None:
            await _refresh_pass(db, profile_of)
        while True:
            await _prune_pass(db, clock)
            if days > 0:
                await _retention_pass(db, clock, days)
            await asyncio.sleep(every.total_seconds())

    return asyncio.create_task(hourly(), name="retention")


async def stop_retention(task: asyncio.Task[None] | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _refresh_pass(db: Database, profile_of: Callable[[str], Profile]) -> None:
    try:
        done = await refresh_status(db, profile_of)
    except Exception:  # never fatal: /status shows the same incidents, in an older order
        log.exception("status: recomputing the open incidents' deadlines failed")
        return
    if done:
        log.info("status: the deadlines of %d open incidents recomputed (a profile changed, or the first start "
                 "after migration 8)", done)


async def _prune_pass(db: Database, clock: Clock) -> None:
    try:
        pruned = await prune_delivered(db, clock.now() - PRUNE_AFTER)
    except Exception:  # never fatal: the next hour tries again
        log.exception("outbox: pruning delivered calls failed")
        return
    if pruned:
        log.debug("outbox: %d delivered calls pruned to their ids", pruned)


async def _retention_pass(db: Database, clock: Clock, days: int) -> None:
    try:
        await apply_retention(db, clock, days)
    except Exception:  # never fatal: the next hour tries again
        log.exception("retention: erasing old personal data failed")


def cli_retention(args: argparse.Namespace, clock: Clock | None = None) -> int:
    """`retention [--days N] [--dry-run] [--database DB]`: erases (or counts) and prints what; 2 on bad input."""
    try:
        env = _env(RetentionSettings)
    except MaintenanceError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    days = env.retention_days if args.days is None else args.days  # type: ignore[attr-defined]
    database = args.database or env.database_path
    if not 0 <= days <= MAX_DAYS:
        print(f"error: --days must be from 0 to {MAX_DAYS}", file=sys.stderr)
        return 2
    if days == 0:
        print("retention is off (0 days): nothing erased")
        return 0
    if not Path(database).is_file():
        print(f"error: no database at {database}", file=sys.stderr)
        return 2
    before = cutoff((clock or SystemClock()).now(), days)
    try:
        erased = asyncio.run(_erase_file(database, before, args.dry_run))
    except sqlite3.Error as e:
        print(f"error: {database}: {e}", file=sys.stderr)
        return 2
    verb = "would erase" if args.dry_run else "erased"
    print(f"{database}: {verb} personal data older than {before:%Y-%m-%d %H:%M} UTC ({days} days): "
          f"{erased.incidents} closed incidents, {erased.intakes} intake drafts, {erased.awaited} awaited replies, "
          f"{erased.outbox} sent messages")
    return 0


async def _erase_file(database: Path, before: datetime, dry_run: bool) -> Erased:
    async with Database.opened(database) as db:
        return await erase(db, before, dry_run=dry_run)


def _env(kind: type[ToolSettings] = ToolSettings) -> ToolSettings:
    try:
        return kind()
    except ValidationError as e:
        err = e.errors()[0]
        key = ".".join(str(x) for x in err["loc"]).upper()
        raise MaintenanceError(f"setting {key}: {err['msg']}") from None
