"""The figures that must not get worse, against an older commit: the two trees alternated in one run.

Run: python bench/bench_figures.py [--commit 5655c5c] [--rounds 3] [--uv PATH]

Event latency (memory, SQLite, PostgreSQL), cost growth in a loop (the three), idle scale (memory, SQLite) and
the shell and JavaScript step overheads, each measured by the older tree's own benchmark script and by this
tree's, as whole processes in turn on fresh stores, ``--rounds`` times (the older tree as ``bench_baseline.py``
prepares it). The run-to-run noise of a figure is the spread of its rounds, the larger of the two sides'; this
tree's figure is worse beyond the noise when its median exceeds the older tree's by more than that spread.

Writes ``figures.json``: each figure's rounds on both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench_baseline import ROOT, find_uv, prepare
from results_file import write

FIGURES: tuple[tuple[str, str, str, str], ...] = (
    ("event latency p50, memory", "events_memory", "p50_ms", "ms"),
    ("event latency p50, SQLite", "events_sqlite", "p50_ms", "ms"),
    ("event latency p50, PostgreSQL", "events_postgres", "p50_ms", "ms"),
    ("loop growth (median ratio), memory", "loop_memory", "median_ratio", ""),
    ("loop growth (median ratio), SQLite", "loop_sqlite", "median_ratio", ""),
    ("loop growth (median ratio), PostgreSQL", "loop_postgres", "median_ratio", ""),
    ("idle scale (resume ratio), memory", "idle_memory", "ratio", ""),
    ("idle scale (resume ratio), SQLite", "idle_sqlite", "ratio", ""),
    ("shell step overhead", "steps_shell", "overhead_ms", "ms"),
    ("JavaScript step overhead", "steps_js", "overhead_ms", "ms"),
)
"""Each figure: its name, the result file and key that hold it, its unit. Lower is better for every one."""


def scripts(tree: Path) -> list[list[str]]:
    """The benchmark runs that make the figures, as each tree's scripts take them (one store of idle scale per
    process, as ``nox -s bench`` runs them, so that one store's memory does not weigh on the other's)."""
    loop = ["bench_loop.py"]
    if "--runs" in (tree / "bench" / "bench_loop.py").read_text():
        loop += ["--runs", "1"]  # one run per round here: the rounds are the repeats
    return [
        ["bench_events.py", "--idle-stores", ""],
        ["bench_events.py", "--stores", "", "--idle-stores", "memory"],
        ["bench_events.py", "--stores", "", "--idle-stores", "sqlite"],
        loop,
        ["bench_steps.py"],
    ]


def measure(tree: Path, python: str) -> dict[str, float]:
    """One round of ``tree``'s benchmarks in processes of their own: each figure's value."""
    with tempfile.TemporaryDirectory(prefix="wfe-bench-figures-") as folder:
        env = {**os.environ, "WFE_BENCH_RESULTS": folder}
        for argv in scripts(tree):
            subprocess.run(
                [python, *argv], cwd=tree / "bench", env=env, check=True, stdout=subprocess.DEVNULL
            )
        values = {}
        for name, result, key, _unit in FIGURES:
            path = Path(folder) / f"{result}.json"
            if path.exists():
                values[name] = float(json.loads(path.read_text())["results"][key])
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commit", default="5655c5c")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--uv", help="the uv executable (default: found on PATH or beside this Python)")
    args = parser.parse_args()
    tree, old_python = prepare(args.commit, find_uv(args.uv))
    old: list[dict[str, float]] = []
    new: list[dict[str, float]] = []
    for number in range(1, args.rounds + 1):
        old.append(measure(tree, str(old_python)))
        new.append(measure(ROOT, sys.executable))
        print(f"[figures round {number}] {args.commit}: {old[-1]}\n  this tree: {new[-1]}", flush=True)
    figures: list[dict[str, Any]] = []
    for name, _result, _key, unit in FIGURES:
        before = [values[name] for values in old if name in values]
        after = [values[name] for values in new if name in values]
        if before and after:
            figures.append({"figure": name, "unit": unit, "old": before, "new": after})
    write("figures", {"commit": args.commit, "rounds": args.rounds, "figures": figures})


if __name__ == "__main__":
    main()
