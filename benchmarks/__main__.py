"""``python -m benchmarks [--quick] [--only NAME] [--no-write]``: figures, each with its baseline
measured in the same run, written to benchmarks/RESULTS.md."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
from pathlib import Path

from benchmarks.cascade_bench import bench_cascade
from benchmarks.catalogue_bench import bench_catalogue
from benchmarks.common import Row
from benchmarks.engine_bench import bench_engine, bench_vector
from benchmarks.feeds_bench import FIREHOSE_SECONDS, bench_firehose, bench_parse
from benchmarks.monitor_bench import bench_monitor
from benchmarks.render_bench import bench_render
from benchmarks.replay_bench import bench_replay

SUITES = {
    "engine": bench_engine,
    "vector": bench_vector,
    "parse": bench_parse,
    "firehose": bench_firehose,
    "replay": bench_replay,
    "render": bench_render,
    "monitor": bench_monitor,
    "cascade": bench_cascade,
    "catalogue": bench_catalogue,
}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument("--only", choices=sorted(SUITES), action="append")
    parser.add_argument("--no-write", action="store_true", help="do not update benchmarks/RESULTS.md")
    parser.add_argument("--firehose-seconds", type=float, default=None, metavar="S",
                        help=f"length of the firehose run (default {FIREHOSE_SECONDS[False]:g} s, "
                             f"{FIREHOSE_SECONDS[True]:g} s with --quick)")
    args = parser.parse_args()
    if args.firehose_seconds is not None and args.firehose_seconds <= 0:
        parser.error("--firehose-seconds must be positive")
    rows: list[Row] = []
    for name in args.only or SUITES:
        print(f"running {name} ...", flush=True)
        options = {"seconds": args.firehose_seconds} if name == "firehose" else {}
        rows.extend(SUITES[name](quick=args.quick, **options))
    header = ["benchmark", "figure", "baseline (same run)", "ratio", "goal", "verdict"]
    table = [header, ["---"] * len(header), *[r.cells() for r in rows]]
    text = "\n".join("| " + " | ".join(cells) + " |" for cells in table)
    print(text)
    if not args.no_write and not args.quick and not args.only:
        machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        Path(__file__).with_name("RESULTS.md").write_text(
            f"# Benchmark results\n\nLatest `python -m benchmarks` run: {stamp}, {machine}.\n"
            "Every ratio is against a baseline measured in the same run.\n\n" + text + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
