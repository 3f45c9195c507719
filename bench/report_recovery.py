"""The recovery section of docs/benchmarks.md (``bench_recovery.py``): a latency against a 1 s bound."""

from __future__ import annotations

from typing import Any

BOUND_MS = 1000.0
STORES = (("sqlite", "SQLite file"), ("postgres", "PostgreSQL"))
WAYS = (("kill", "SIGKILL mid-step"), ("stop", "graceful `stop()` mid-step"))


def _get(results: dict[str, dict[str, Any]], name: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    found = results.get(name)
    return (found["results"], found["machine"]) if found else None


def _pair(r: dict[str, Any], name: str) -> str:
    return f"{r[f'{name}_median_ms']:,.0f} / {r[f'{name}_max_ms']:,.0f} ms"


def recovery(results: dict[str, dict[str, Any]]) -> list[str]:
    rows, machines = [], []
    for store, store_name in STORES:
        found = _get(results, f"recovery_{store}")
        if found is None:
            continue
        measured, machine = found
        machines.append(machine)
        for way, way_name in WAYS:
            r = measured.get(way)
            if r is None:
                continue
            rows.append(
                f"| {store_name} | {way_name} | {r['runs']} | **{_pair(r, 'interrupted')}** | "
                f"**{_pair(r, 'waiting')}** | {_pair(r, 'interrupted_from_spawn')} | "
                f"{r['interpreter_median_ms']:,.0f} + {r['import_wfe_median_ms']:,.0f} + "
                f"{r['build_host_median_ms']:,.0f} ms |"
            )
    if not rows:
        return []
    dates = sorted(m["date"] for m in machines)
    lines = [
        "## 10. Recovery after a restart",
        "",
        "Host A (a process of its own, one workflow slot, default options: 30 s lease ttl, 10 s poll interval)",
        "starts two workflows: the first one's step records that it started and sleeps, the second waits for the",
        "slot. A is SIGKILLed, or stopped gracefully (0.2 s stop timeout, which cancels the step), while the step",
        "sleeps; then host B, a new process on the same SQLite file or the same PostgreSQL schema and `host_id`,",
        "starts. The bound (≤ 1 s) is on the time from B's `start()` call to the interrupted step running again",
        "and to the waiting workflow's step running (median / max over the runs, a fresh store each run). From",
        "spawn adds what B's process pays before `start()`: the interpreter, `import wfe`, and building the host",
        "(on PostgreSQL that imports psycopg); their medians are the last column. Times are `time.monotonic()`",
        "lines written by both processes. On PostgreSQL B shares A's `host_id` and, being on the same machine,",
        "could also prove A gone by its pid; the contrast below is a host that can prove neither.",
        "",
        "| store | how A ended | runs | interrupted step, from `start()` | waiting workflow, from `start()` |"
        " interrupted step, from spawn | interpreter + import + build |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ]
    contrast = _get(results, "recovery_contrast_postgres")
    if contrast is not None:
        r = contrast[0]["kill"]
        lines += [
            "",
            "Before leases named their holder, every restart waited for them to lapse. For contrast (one run,",
            "PostgreSQL, SIGKILL): A in a pid namespace of its own and B with another `host_id`, so B cannot prove",
            f"A gone. The interrupted step ran again {r['interrupted_median_ms'] / 1000:.1f} s after B's `start()`"
            " (A's lease",
            f"lapsing: its ttl), the waiting workflow {r['waiting_median_ms'] / 1000:.1f} s after it (the next"
            " poll).",
        ]
    cores = machines[0]["cores"]
    lines += [
        "",
        f"Measured on {cores} cores from {dates[0]} to {dates[-1]}, on its own (`bench/bench_recovery.py`).",
    ]
    return lines


def recovery_targets(results: dict[str, dict[str, Any]]) -> list[tuple[str, str, bool | None]]:
    rows: list[tuple[str, str, bool | None]] = []
    for store, store_name in STORES:
        found = _get(results, f"recovery_{store}")
        if found is None:
            continue
        for way, way_name in (("kill", "SIGKILL"), ("stop", "graceful stop")):
            r = found[0].get(way)
            if r is None:
                continue
            worst = max(r["interrupted_max_ms"], r["waiting_max_ms"])
            rows.append(
                (
                    f"recovery after a {way_name} ≤ 1 s from `start()` ({store_name}; worst of {r['runs']} runs)",
                    f"{worst:,.0f} ms",
                    worst <= BOUND_MS,
                )
            )
    return rows
