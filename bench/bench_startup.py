"""CLI start-up: the wall time of whole processes, ``python -c pass`` beside ``import wfe``, ``wfe --help`` and
``wfe validate examples/pipelines/ci.yaml``, and the floor under ``validate``: a process that imports the
libraries it is built on (click, PyYAML, pydantic), defines and validates one pydantic model and parses the
pipeline with PyYAML's C loader, doing nothing of wfe's.

Run: python bench/bench_startup.py [--runs 20]

The commands run in turn (pass, import, help, validate, pass, ...) so a drift of the machine's speed touches each
alike; after one warm-up round, each command's median of ``--runs`` is taken, and its difference from the median
of ``python -c pass`` (what wfe adds to a bare interpreter). ``wfe`` is the console script beside this Python.

The commands run with the bytecode caches an installed package has (pip compiles them at install): the
warm-up round writes whatever is missing, even where ``PYTHONDONTWRITEBYTECODE`` is set (an editable or
``uv pip`` install has none), so that no run times the compiler instead of the imports.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from results_file import write

ROOT = Path(__file__).resolve().parent.parent
PIPELINE = "examples/pipelines/ci.yaml"

LIBRARIES = f"""
import click, yaml
from pydantic import BaseModel
class One(BaseModel):
    name: str
One(name="x")
with open({PIPELINE!r}) as f:
    yaml.load(f, Loader=yaml.CSafeLoader)
"""
"""What ``validate`` cannot do without: its libraries imported, one model built and used, the file parsed."""


def commands() -> dict[str, list[str]]:
    script = Path(sys.executable).parent / "wfe"
    wfe = [str(script)] if script.exists() else [sys.executable, "-c", "from wfe.cli import main; main()"]
    return {
        "python": [sys.executable, "-c", "pass"],
        "import": [sys.executable, "-c", "import wfe"],
        "help": [*wfe, "--help"],
        "validate": [*wfe, "validate", PIPELINE, "--var", "project=demo"],
        "libraries": [sys.executable, "-c", LIBRARIES],
    }


ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
"""The commands' environment: bytecode caches are written (see the module's docstring)."""


def once(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    table = commands()
    times: dict[str, list[float]] = {name: [] for name in table}
    load_before = os.getloadavg()[0]
    for round_ in range(args.runs + 1):
        for name, argv in table.items():
            took = once(argv)
            if round_:  # the first round warms the file cache up
                times[name].append(took)
    median = {name: statistics.median(values) * 1000 for name, values in times.items()}
    results: dict[str, float | int] = {
        "runs": args.runs,
        "load_average": round(max(load_before, os.getloadavg()[0]), 1),  # the machine's 1-minute load
        "bytecode_cached": True,
    }
    for name in table:
        results[f"{name}_ms"] = round(median[name], 1)
        results[f"{name}_min_ms"] = round(min(times[name]) * 1000, 1)
        if name != "python":
            results[f"{name}_over_python_ms"] = round(median[name] - median["python"], 1)
    write("startup", results)


if __name__ == "__main__":
    main()
