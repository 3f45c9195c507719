"""Writing and reading ``bench/results/<name>.json``: one file per benchmark, stamped with the machine."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """What the numbers depend on: cores, Python, platform, and when they were taken."""
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write(name: str, results: dict[str, Any], folder: Path | None = None) -> Path:
    """Write ``results`` as ``<folder>/<name>.json`` with the machine stamp; return the path."""
    target = folder or Path(os.environ.get("WFE_BENCH_RESULTS", RESULTS))
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{name}.json"
    path.write_text(
        json.dumps({"benchmark": name, "machine": machine(), "results": results}, indent=2) + "\n"
    )
    print(f"[{name}] {json.dumps(results)}", flush=True)
    return path


def read_all(folder: Path | None = None) -> dict[str, dict[str, Any]]:
    """Every result file in ``folder``, by benchmark name."""
    target = folder or RESULTS
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(target.glob("*.json")):
        data = json.loads(path.read_text())
        found[data["benchmark"]] = data
    return found
