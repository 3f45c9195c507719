"""The sections of docs/benchmarks.md about starting: the command line's start-up (§11) and workflows started one
at a time (§13)."""

from __future__ import annotations

from typing import Any

from report_format import fmt, get


def startup(results: dict[str, dict[str, Any]]) -> list[str]:
    found = get(results, "startup")
    if found is None:
        return []
    stamp = results["startup"]["machine"]
    lines = [
        "## 11. CLI start-up",
        "",
        "Whole processes, each command started in turn with the others (after one warm-up round), the median of",
        f"{found['runs']} runs each and its difference from a bare interpreter (`bench/bench_startup.py`). `wfe` is",
        "the console script; `validate` checks `examples/pipelines/ci.yaml --var project=demo`.",
        *(
            ["The modules' bytecode caches are in place, as pip writes them at install."]
            if found.get("bytecode_cached")
            else []
        ),
        "",
        "| command | median | fastest | over `python -c pass` |",
        "|---|---|---|---|",
    ]
    for name, shown in (
        ("python", "`python -c pass`"),
        ("import", '`python -c "import wfe"`'),
        ("help", "`wfe --help`"),
        ("validate", "`wfe validate examples/pipelines/ci.yaml`"),
        ("libraries", "its libraries alone: click, PyYAML, one pydantic model"),
    ):
        if f"{name}_ms" not in found:  # a run from before the libraries' row
            continue
        over = found.get(f"{name}_over_python_ms")
        lines.append(
            f"| {shown} | {found[f'{name}_ms']:.0f} ms | {found[f'{name}_min_ms']:.0f} ms | "
            f"{'' if over is None else f'{over:+.0f} ms'} |"
        )
    if "libraries_ms" in found:
        own = found["validate_ms"] - found["libraries_ms"]
        lines += [
            "",
            "The last row is the floor under `validate`: a process that imports click, PyYAML and pydantic, builds",
            "and uses one pydantic model and parses the pipeline with PyYAML's C loader, and does nothing else.",
            f"What `validate` spends over it, {own:+.0f} ms, is wfe's own (its modules, the schema's models, the",
            "checks); the rest is the libraries' import and first use, which no lazy import of wfe's can avoid.",
        ]
    lines += [
        "",
        f"Measured at {stamp['date']} on {stamp['cores']} cores shared with other work (1-minute load average up",
        f"to {found.get('load_average', '?')}): when that is not the run of §1, read the differences, not the",
        "absolute figures.",
    ]
    return lines


def sequential(results: dict[str, dict[str, Any]]) -> list[str]:
    found = [
        (store, name, get(results, f"sequential_wfe_{store}"), get(results, f"sequential_dbos_{store}"))
        for store, name in (("memory", "in-memory"), ("sqlite", "SQLite"), ("postgres", "PostgreSQL"))
    ]
    found = [row for row in found if row[2]]
    if not found:
        return []
    lines = [
        "## 13. Sequential starts: one `await start_workflow` at a time",
        "",
        "The load of §1 as most applications call an engine: each `await host.start_workflow(...)` returns",
        "(the instance stored) before the next is asked for, then the clock runs until the last completion; the",
        "best of the runs of `bench_throughput.py` (alternated with those of §1). DBOS runs its load of §1, which",
        "starts one workflow at a time too (`DBOS.start_workflow` / `start_workflow_async`, then `get_result`",
        "of all; the better API).",
        "",
        "| store | wfe steps/s | wfe workflows/s | CPU per workflow | DBOS steps/s | wfe ÷ DBOS |",
        "|---|---|---|---|---|---|",
    ]
    dates = []
    for store, name, wfe, dbos in found:
        assert wfe is not None
        dates += [
            results[f"sequential_{side}_{store}"]["machine"]["date"]
            for side in ("wfe", "dbos")
            if f"sequential_{side}_{store}" in results
        ]
        cpu_ms = wfe["cpu_seconds"] / wfe["workflows"] * 1000
        lines.append(
            f"| {name} | {fmt(wfe['steps_per_s'])} | {fmt(wfe['workflows_per_s'])} | {cpu_ms:.2f} ms | "
            + (
                f"{fmt(dbos['steps_per_s'])} | **{wfe['steps_per_s'] / dbos['steps_per_s']:.1f}×** |"
                if dbos
                else "– | – |"
            )
        )
    lines += [
        "",
        f"Measured from {min(dates)} to {max(dates)} (wfe, then DBOS): when that is not the run of",
        "§1, the machine's load was another, so compare the ratios, not the absolute figures.",
    ]
    return lines
