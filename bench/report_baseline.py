"""The section of docs/benchmarks.md that sets this tree against an older commit (``bench_baseline.py``)."""

from __future__ import annotations

from typing import Any

STORES = (("memory", "in-memory"), ("sqlite", "SQLite file"), ("postgres", "PostgreSQL"))
SPEEDUP = 2.0
"""In-memory steps/s against the older commit's, at least."""
CPU_SHARE = 2 / 3
"""CPU per durable step on a database against the older commit's, at most."""


def _get(results: dict[str, dict[str, Any]], store: str) -> dict[str, Any] | None:
    found = results.get(f"baseline_{store}")
    return found["results"] if found else None


def baseline(results: dict[str, dict[str, Any]]) -> list[str]:
    rows = []
    commit = ""
    for store, name in STORES:
        r = _get(results, store)
        if r is None:
            continue
        commit = r["commit"]
        old, new = r["old"], r["new"]
        rows.append(
            f"| {name} | {old['best_steps_per_s']:,.0f} | {new['best_steps_per_s']:,.0f} | "
            f"**{r['speedup']:.2f}×** | {old['median_cpu_us_per_step']:,.0f} µs | "
            f"{new['median_cpu_us_per_step']:,.0f} µs | **{r['cpu_ratio']:.2f}×** |"
        )
    if not rows:
        return []
    return [
        f"## 12. Against commit {commit}",
        "",
        "The throughput load of §1 (2,000 workflows x 3 no-op steps, 100 starts in flight) of this tree and of",
        f"commit {commit} (a worktree with a virtualenv of its own), alternated as whole processes on fresh stores",
        "(`bench/bench_baseline.py`): best steps/s of each side, and the median CPU time (user and system, every",
        "thread) per durable step. The older commit builds every lifecycle event whoever listens; this tree's load",
        "counts its completions with `on_lifecycle_event(..., kinds=[WorkflowCompleted])`, so it builds only those.",
        "",
        f"| store | {commit} steps/s | this tree | speed-up | {commit} CPU/step | this tree | CPU ratio |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ]


def baseline_targets(results: dict[str, dict[str, Any]]) -> list[tuple[str, str, bool | None]]:
    rows: list[tuple[str, str, bool | None]] = []
    memory = _get(results, "memory")
    if memory is not None:
        rows.append(
            (
                f"in-memory steps/s ≥ {SPEEDUP:g}× commit {memory['commit']} (§12)",
                f"{memory['speedup']:.2f}×",
                memory["speedup"] >= SPEEDUP,
            )
        )
    for store, name in STORES[1:]:
        r = _get(results, store)
        if r is not None:
            rows.append(
                (
                    f"{name} CPU per durable step ≤ ⅔ of commit {r['commit']}'s (§12)",
                    f"{r['cpu_ratio']:.2f}×",
                    r["cpu_ratio"] <= CPU_SHARE,
                )
            )
    return rows
