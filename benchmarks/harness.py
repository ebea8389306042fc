"""What the benchmark scripts share: the bot in a process of its own, its group in the emulator, the table."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bot.org_file import import_org, read_org_file
from emulator import TelegramEmulator
from storage.db import Database

ROOT = Path(__file__).resolve().parent.parent
ORG_FILE = ROOT / "tests" / "data" / "org-example.toml"
COORDINATOR, ZHKH_HEAD = 100001, 200001  # in ORG_FILE
RIGHTS = {"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": True}

Row = tuple[str, str, str, str]  # metric, figure, goal, "ok" / "not ok" / ""


def fresh_database(path: Path) -> Path:
    """No database (nor its log) left at ``path`` from an earlier run."""
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(str(path) + suffix).unlink()
    return path


def forum_group(tg: TelegramEmulator, coordinators: int) -> tuple[list[Any], Any, Any]:
    """``coordinators`` coordinators (the first is ORG_FILE's), the head of ЖКХ, and their forum group with the
    bot an administrator: (coordinators, head, group)."""
    people = [tg.create_user(f"Координатор {w}", user_id=COORDINATOR if w == 0 else 300000 + w, started=True)
              for w in range(coordinators)]
    head = tg.create_user("Петров", user_id=ZHKH_HEAD, started=True)
    group = tg.create_supergroup("Инцидент-менеджмент", forum=True, members=[*people, head], owner=people[0],
                                 bot_status="administrator", bot_rights=RIGHTS)
    return people, head, group


async def organisation(database: Path, coordinators: int) -> None:
    """ORG_FILE's organisation, and the extra coordinators ``forum_group`` made (each has his own intake draft)."""
    db = await Database.open(database)
    try:
        await import_org(db, read_org_file(ORG_FILE))
        for w in range(1, coordinators):
            await db.write("INSERT INTO people(user_id, name) VALUES (?, ?)", (300000 + w, f"Координатор {w}"))
            await db.write("INSERT INTO memberships(user_id, chat_id, role) VALUES (?, NULL, 'coordinator')",
                           (300000 + w,))
    finally:
        await db.close()


async def stop(proc: subprocess.Popen[str], timeout: float = 15.0, tail: int = 1500) -> str:
    """SIGTERM, then SIGKILL after ``timeout``; the end of what it wrote to stderr."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(None, proc.wait), timeout)
    except TimeoutError:
        proc.kill()
        proc.wait()
    assert proc.stderr is not None
    return proc.stderr.read()[-tail:]


async def wait(predicate: Callable[[], Any], timeout: float, what: str, pause: float = 0.01) -> Any:
    """The predicate's value once it is true; TimeoutError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(pause)


def peak_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        return next(int(x.split()[1]) for x in status if x.startswith("VmHWM:")) / 1024


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@contextlib.contextmanager
def run_folder(given: str | None, prefix: str) -> Iterator[Path]:
    """Where a run keeps its databases: the folder given (``--workdir``, kept afterwards), else a temporary one."""
    if given:
        Path(given).mkdir(parents=True, exist_ok=True)
        yield Path(given)
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        yield Path(folder)


def print_table(rows: list[Row]) -> None:
    header = ("metric", "value", "goal", "ok")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    print()
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
