"""DBOS Transact, the baseline: N workflows x M no-op steps, and send -> recv latency, on SQLite or PostgreSQL.

Runs in a virtualenv of its own with dbos installed (``nox -s bench`` makes it); DBOS is never a dependency of
wfe. Run: python bench/bench_dbos.py --store sqlite|postgres [--workflows 1000] [--steps 3]

SQLite: a fresh file; PostgreSQL: a fresh database on $WFE_BENCH_POSTGRES_URL's server, dropped afterwards. Both
the synchronous and the async API are timed (best of ``--rounds`` loads each) and the better one is reported, so
the baseline is DBOS at its best.

The load starts one workflow at a time (``DBOS.start_workflow`` / ``await DBOS.start_workflow_async``, each
returning once the workflow is recorded), then waits for every result: the way applications call DBOS, and the
load of wfe's sequential starts. The figures are written twice, as ``throughput_dbos_<store>`` (the baseline of
the concurrent load) and ``sequential_dbos_<store>`` (of the sequential one), so that the report's sections,
which may come from different runs, each compare figures of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import statistics
import tempfile
import time
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from results_file import write

POSTGRES_URL = os.environ.get("WFE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def database_url(store: str, name: str, folder: str) -> str:
    if store == "sqlite":
        return f"sqlite:///{folder}/{name}.sqlite"
    parts = urlsplit(POSTGRES_URL)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(store: str, workflows: int, steps: int, latency_samples: int, rounds: int) -> dict[str, Any]:
    from dbos import DBOS

    name = f"wfe_bench_dbos_{uuid.uuid4().hex[:8]}"
    folder = tempfile.mkdtemp(prefix="wfe-bench-dbos-")
    DBOS(
        config={
            "name": name,
            "system_database_url": database_url(store, name, folder),
            "log_level": "WARNING",
        }
    )

    @DBOS.step()
    def noop_sync() -> None:
        return None

    @DBOS.workflow()
    def flow_sync() -> None:
        for _ in range(steps):
            noop_sync()

    @DBOS.step()
    async def noop_async() -> None:
        return None

    @DBOS.workflow()
    async def flow_async() -> None:
        for _ in range(steps):
            await noop_async()

    @DBOS.workflow()
    async def waiter() -> float:
        message = await DBOS.recv_async("go", timeout_seconds=60)
        await noop_async()
        return float(message)

    @DBOS.step()
    async def stamp() -> float:
        return time.perf_counter()

    @DBOS.workflow()
    async def waiter_then_step() -> float:
        await DBOS.recv_async("go", timeout_seconds=60)
        return await stamp()

    DBOS.launch()
    logging.getLogger("dbos").setLevel(logging.WARNING)
    try:
        # warm-up: pools, statements, imports
        DBOS.start_workflow(flow_sync).get_result()

        def sync_load() -> float:
            begun = time.perf_counter()
            handles = [DBOS.start_workflow(flow_sync) for _ in range(workflows)]
            for handle in handles:
                handle.get_result()
            return time.perf_counter() - begun

        async def async_load() -> float:
            begun = time.perf_counter()
            handles = [await DBOS.start_workflow_async(flow_async) for _ in range(workflows)]
            for handle in handles:
                await handle.get_result()
            return time.perf_counter() - begun

        async def latency() -> list[float]:
            samples = []
            for _ in range(latency_samples):
                handle = await DBOS.start_workflow_async(waiter_then_step)
                await asyncio.sleep(0.02)  # let it reach recv
                sent = time.perf_counter()
                await DBOS.send_async(handle.workflow_id, "1", "go")
                resumed = await handle.get_result()
                samples.append(resumed - sent)
            return samples

        async def async_loads() -> list[float]:
            return [await async_load() for _ in range(rounds)]

        # best of ``rounds`` for each API, as the wfe side takes the best of its runs
        sync_seconds = min(sync_load() for _ in range(rounds))
        async_seconds = min(asyncio.run(async_loads()))
        samples = asyncio.run(latency())
    finally:
        DBOS.destroy(destroy_registry=True)
        shutil.rmtree(folder, ignore_errors=True)
        if store == "postgres":
            drop_database(name)
    best = min(sync_seconds, async_seconds)
    ms = sorted(s * 1000 for s in samples)
    return {
        "store": store,
        "workflows": workflows,
        "steps": steps,
        "rounds": rounds,
        "dbos_version": __import__("dbos").__version__
        if hasattr(__import__("dbos"), "__version__")
        else "3.4.0",
        "sync_seconds": sync_seconds,
        "async_seconds": async_seconds,
        "seconds": best,
        "workflows_per_s": workflows / best,
        "steps_per_s": workflows * steps / best,
        "event_latency_p50_ms": statistics.median(ms),
        "event_latency_p99_ms": ms[min(len(ms) - 1, int(len(ms) * 0.99))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--workflows", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--latency-samples", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=1, help="best of N loads per API")
    args = parser.parse_args()
    results = run(args.store, args.workflows, args.steps, args.latency_samples, args.rounds)
    write(f"throughput_dbos_{args.store}", results)
    write(f"sequential_dbos_{args.store}", {**results, "starts": "sequential"})


if __name__ == "__main__":
    main()
