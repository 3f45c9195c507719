"""This tree against an older commit: the same throughput load, the two alternated in one run.

Run: python bench/bench_baseline.py [--commit 5655c5c] [--stores memory,sqlite,postgres] [--rounds 5]

The older commit is checked out in a git worktree (``.nox/bench-baseline/<commit>``) with a virtualenv of its
own (its packages, editable, at the versions of this tree's lock), made on first use with ``uv``. Each round
runs ``bench_throughput.py`` of the older tree, then of this one, as processes of their own on fresh stores
(``--workflows`` workflows x 3 no-op steps, 100 starts in flight), so both see the same minutes of a shared
machine. Each side runs its own copy of the load: the older one subscribes to every lifecycle event (it has no
way to take fewer, and builds them all whoever listens), this one to the completions it counts.

Writes ``baseline_<store>.json``: the best and median steps/s of each side, their ratio, and CPU per durable
step (the process's user + system time, every thread, over the steps) of each side.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from results_file import write

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("wfe-core", "wfe", "wfe-sqlite", "wfe-postgres", "wfe-yaml")
"""What the loads need of the older tree (the in-memory store is in wfe-core; the YAML steps of
``bench_figures.py`` are wfe-yaml's)."""


def find_uv(given: str | None) -> str:
    found = given or shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    if not Path(found).exists():
        raise SystemExit("bench_baseline needs uv: pip install uv, or pass --uv PATH (nox -s bench does)")
    return found


def prepare(commit: str, uv: str) -> tuple[Path, Path]:
    """The older tree and its Python, made on first use (and given the packages the loads need when one is
    missing)."""
    base = ROOT / ".nox" / "bench-baseline"
    tree = base / commit
    if not (tree / "packages").exists():
        base.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], check=True)
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--force", str(tree), commit], check=True
        )
    venv = base / f"venv-{commit}"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([uv, "venv", "--quiet", "--python", "3.11", str(venv)], check=True)
    if subprocess.run([python, "-c", "import wfe_yaml, py_mini_racer"], capture_output=True).returncode:
        subprocess.run(
            [
                uv,
                "pip",
                "install",
                "--quiet",
                "--python",
                str(python),
                *[f"-e{tree / 'packages' / p}" for p in PACKAGES if (tree / "packages" / p).exists()],
                "psycopg[binary]",
                "mini-racer",
                "-c",
                str(ROOT / "constraints.txt"),
            ],
            check=True,
        )
    return tree, python


def run_load(tree: Path, python: str, store: str, workflows: int) -> dict[str, Any]:
    """One run of ``tree``'s throughput load on ``store``: its results (steps/s, CPU seconds)."""
    script = tree / "bench" / "bench_throughput.py"
    extra = ["--no-queue"] if "--queue" in script.read_text() else []
    with tempfile.TemporaryDirectory(prefix="wfe-bench-baseline-") as folder:
        env = {**os.environ, "WFE_BENCH_RESULTS": folder}
        subprocess.run(
            [python, str(script), "--stores", store, "--workflows", str(workflows), *extra],
            cwd=script.parent,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        results: dict[str, Any] = json.loads((Path(folder) / f"throughput_wfe_{store}.json").read_text())
    return dict(results["results"])


def summary(runs: list[dict[str, Any]]) -> dict[str, float]:
    rates = [r["steps_per_s"] for r in runs]
    cpu = [1e6 * r["cpu_seconds"] / (r["workflows"] * r["steps"]) for r in runs]
    return {
        "best_steps_per_s": max(rates),
        "median_steps_per_s": statistics.median(rates),
        "median_cpu_us_per_step": statistics.median(cpu),
        "best_cpu_us_per_step": min(cpu),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commit", default="5655c5c")
    parser.add_argument("--stores", default="memory,sqlite,postgres")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workflows", type=int, default=2000)
    parser.add_argument("--uv", help="the uv executable (default: found on PATH or beside this Python)")
    args = parser.parse_args()
    tree, old_python = prepare(args.commit, find_uv(args.uv))
    for store in args.stores.split(","):
        old: list[dict[str, Any]] = []
        new: list[dict[str, Any]] = []
        for _ in range(args.rounds):
            old.append(run_load(tree, str(old_python), store, args.workflows))
            new.append(run_load(ROOT, sys.executable, store, args.workflows))
        before, after = summary(old), summary(new)
        write(
            f"baseline_{store}",
            {
                "store": store,
                "commit": args.commit,
                "workflows": args.workflows,
                "rounds": args.rounds,
                "old": before,
                "new": after,
                "speedup": after["best_steps_per_s"] / before["best_steps_per_s"],
                "cpu_ratio": after["median_cpu_us_per_step"] / before["median_cpu_us_per_step"],
            },
        )


if __name__ == "__main__":
    main()
