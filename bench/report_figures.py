"""The section of docs/benchmarks.md that sets the figures that must not get worse against an older commit
(``bench_figures.py``)."""

from __future__ import annotations

import statistics
from typing import Any


def _verdicts(results: dict[str, dict[str, Any]]) -> tuple[str, list[dict[str, Any]]] | None:
    found = results.get("figures")
    if not found:
        return None
    run = found["results"]
    rows = []
    for figure in run["figures"]:
        old, new = figure["old"], figure["new"]
        noise = max(max(old) - min(old), max(new) - min(new))
        change = statistics.median(new) - statistics.median(old)
        rows.append({**figure, "noise": noise, "change": change, "worse": change > noise})
    return run["commit"], rows


def _value(value: float, unit: str, spec: str = ".2f") -> str:
    return f"{value:{spec}} {unit}".strip()


def figures(results: dict[str, dict[str, Any]]) -> list[str]:
    found = _verdicts(results)
    if found is None:
        return []
    commit, rows = found
    lines = [
        f"## 14. Against commit {commit}: the figures that must not get worse",
        "",
        "Event latency, loop growth, idle scale and the shell and JavaScript step overheads, measured by commit",
        f"{commit}'s own benchmark scripts (a worktree with a virtualenv of its own) and by this tree's, as whole",
        "processes in turn on fresh stores (`bench/bench_figures.py`), round after round. A figure's noise is the",
        "spread of its rounds, the larger of the two sides'; it is worse when this tree's median exceeds the",
        "older one's by more than that. Lower is better for each.",
        "",
        f"| figure | {commit}, each round | this tree, each round | change of the medians | noise | |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        unit = row["unit"]
        lines.append(
            f"| {row['figure']} | {', '.join(f'{v:.2f}' for v in row['old'])} | "
            f"{', '.join(f'{v:.2f}' for v in row['new'])} | {_value(row['change'], unit, '+.2f')} | "
            f"{_value(row['noise'], unit)} | {'**worse**' if row['worse'] else 'not worse'} |"
        )
    return lines


def figures_targets(results: dict[str, dict[str, Any]]) -> list[tuple[str, str, bool | None]]:
    found = _verdicts(results)
    if found is None:
        return []
    commit, rows = found
    worse = [row["figure"] for row in rows if row["worse"]]
    return [
        (
            f"no figure of §14 worse than commit {commit}'s by more than the noise of its rounds",
            ", ".join(worse) + " worse" if worse else f"{len(rows)} figures, none worse",
            not worse,
        )
    ]
