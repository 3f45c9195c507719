"""The sections of docs/benchmarks.md about the host's services: schedules (§7), queue slots (§8), the HTTP server
(§9)."""

from __future__ import annotations

from typing import Any

from report_format import fmt, get


def schedules(results: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        "## 7. Schedule tick latency",
        "",
        "One host, a schedule of one tick a second; the time from each tick to the first step of the run it",
        "started (the firing loop sleeps until the tick, starts the run with its derived id, and the host runs it",
        "at once), over 20 ticks after a warm-up one.",
        "",
        "| store | p50 | p99 | max |",
        "|---|---|---|---|",
    ]
    for store in ("memory", "sqlite", "postgres"):
        found = get(results, f"schedules_{store}")
        if found is None:
            continue
        lines.append(
            f"| {store} | {found['p50_ms']:.2f} ms | {found['p99_ms']:.2f} ms | {found['max_ms']:.2f} ms |"
        )
    return lines


def queues(results: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        "## 8. The cost of a queue slot",
        "",
        "The load of §1, and the same load with every workflow in a queue with limits whose concurrency no run",
        "reaches (each run takes a slot in the store and frees it), alternated in one run (best of each):",
        "",
        "| store | steps/s | steps/s in a queue | ratio |",
        "|---|---|---|---|",
    ]
    dates = []
    for store, name in (("memory", "in-memory"), ("sqlite", "SQLite"), ("postgres", "PostgreSQL")):
        q = get(results, f"queue_{store}")
        if q:
            dates.append(results[f"queue_{store}"]["machine"]["date"])
            lines.append(
                f"| {name} | {fmt(q['steps_per_s'])} | {fmt(q['queued_steps_per_s'])} | {q['ratio']:.2f} |"
            )
    if not dates:
        return []
    lines += [
        "",
        f"Measured from {min(dates)} to {max(dates)}: when that is not the run of §1, the machine's load was",
        "another, so read the ratio, not the absolute figures.",
    ]
    return lines


def server(results: dict[str, dict[str, Any]]) -> list[str]:
    found = [(store, get(results, f"server_{store}")) for store in ("sqlite", "postgres")]
    found = [(store, data) for store, data in found if data]
    if not found:
        return []
    lines = [
        "## 9. The HTTP server",
        "",
        "`bench/bench_server.py` against a real `wfe serve --http` (16 clients at a time; the starts are run by the",
        "server's host meanwhile); fan-out: 100 clients following `/api/v1/stream`, from each `WorkflowStarted`",
        "event's timestamp to its arrival at every subscriber (20 events).",
        "",
        "| store | `GET /api/v1/workflows/{id}` /s | `POST /api/v1/workflows` /s | fan-out median | p99 | max |",
        "|---|---|---|---|---|---|",
    ]
    for store, data in found:
        fan = data["fan_out"]
        lines.append(
            f"| {store} | {fmt(data['reads_per_s'])} | {fmt(data['starts_per_s'])} | {fan['median_ms']:.1f} ms | "
            f"{fan['p99_ms']:.1f} ms | {fan['max_ms']:.1f} ms |"
        )
    return lines
