"""Issue 11 in one run: where people wait, and what it costs. A script that prints figures, not a test.

    python benchmarks/bench_issue11.py                              # everything (about 15–25 min on 2 CPUs)
    python benchmarks/bench_issue11.py --quick                      # smaller sizes and shorter runs
    python benchmarks/bench_issue11.py --only latency throughput
    python benchmarks/bench_issue11.py --scale "--sizes 10000" --latency "--in-flight 10 --steady 60"

Sections (each also runs alone, with its own options: see its docstring):
- start, status, outbox — benchmarks/bench_scale.py: start to the first getUpdates and peak memory at 10k open
  incidents; /status at 10k and 100k; the outbox's bytes per incident before and after pruning;
- throughput — benchmarks/bench_throughput.py: the workflow's updates/s against a bare aiogram echo bot on
  the same emulator, and the ratio;
- latency — benchmarks/bench_latency.py: the head's answer to the chief's review message with 1, 5 and 10
  incidents in flight in one group, under the emulator's flood control (Telegram's limits), and the 429s.

``--scale``, ``--throughput`` and ``--latency`` pass options to those scripts' own parsers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_latency
import bench_scale
import bench_throughput
import harness

SECTIONS = {
    "start": (bench_scale, "section_start", "scale"),
    "status": (bench_scale, "section_status", "scale"),
    "outbox": (bench_scale, "section_outbox", "scale"),
    "throughput": (bench_throughput, "section_throughput", "throughput"),
    "latency": (bench_latency, "section_latency", "latency"),
}
QUICK = {
    "scale": "--sizes 10000 100000 --starts 3 --skip-migration",
    "throughput": "--rounds 1",
    "latency": "--in-flight 1 10 --steady 60",
}


async def main(args: argparse.Namespace) -> None:
    print(f"{datetime.now(UTC):%Y-%m-%d}; load average at start: {harness.load_average()}; "
          f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs")
    rows: list[tuple[str, str, str, str]] = []
    with harness.run_folder(args.workdir, "bench-issue11-") as workdir:
        for name in args.only:
            module, function, options = SECTIONS[name]
            argv = shlex.split((QUICK[options] + " " if args.quick else "") + getattr(args, options))
            section_args = module.parse_args(argv)
            rows += await getattr(module, function)(workdir, section_args)
    harness.print_table(rows)
    print(f"\nload average at the end: {harness.load_average()} "
          "(other work on the machine skews every figure)")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--only", nargs="+", default=list(SECTIONS), choices=list(SECTIONS))
    p.add_argument("--quick", action="store_true", help="smaller sizes and shorter runs")
    p.add_argument("--workdir", help="keep the databases here (seeded ones are reused between runs)")
    p.add_argument("--scale", default="", help="options for bench_scale.py (start, status, outbox)")
    p.add_argument("--throughput", default="", help="options for bench_throughput.py")
    p.add_argument("--latency", default="", help="options for bench_latency.py")
    return p.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
