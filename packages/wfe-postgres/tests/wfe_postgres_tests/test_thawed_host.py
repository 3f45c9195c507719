"""A host frozen past its lease, thawed after another host took the instance over but before that host wrote
anything, must not write the instance nor run its next step: only the step in flight at the freeze may run twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from wfe_core.models import WorkflowStatus
from wfe_postgres import PostgresLock, PostgresPersistence

from .freeze_host import create_runs_table, runs_table

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@contextlib.asynccontextmanager
async def thaw_host(
    pg_url: str, schema: str, name: str, start: int, log_dir: Path
) -> AsyncIterator[tuple[asyncio.subprocess.Process, list[str]]]:
    """A ``thaw_host.py`` process and the ids it started (read up to its ``ready`` line); stopped on exit."""
    config = {
        "pg_url": pg_url,
        "schema": schema,
        "name": name,
        "start": start,
        "log": str(log_dir / f"{name}.log"),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("thaw_host.py")),
        json.dumps(config),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        ids: list[str] = []
        while "ready" not in (line := json.loads(await asyncio.wait_for(proc.stdout.readline(), timeout=30))):
            ids.append(line["started"])
        yield proc, ids
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGCONT)
            proc.send_signal(signal.SIGTERM)
        await proc.wait()


async def test_a_thawed_host_writes_nothing_once_another_host_took_the_instance_over(
    pg_url: str, schema: str, tmp_path: Path
) -> None:
    store = PostgresPersistence.from_url(pg_url, schema=schema)
    lock = PostgresLock.from_url(pg_url, schema=schema)
    await store.ensure_store_exists()
    await lock.start()
    await lock.stop()
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        await conn.execute(create_runs_table(schema))

    async def steps_run() -> list[tuple[str, str]]:
        async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
            cur = await conn.execute(
                sql.SQL("SELECT step, host FROM {} ORDER BY seq").format(runs_table(schema))
            )
            return [(str(step), str(host)) for step, host in await cur.fetchall()]

    async def until_steps(expected: list[tuple[str, str]], what: str) -> None:
        deadline = time.monotonic() + 20
        while await steps_run() != expected:
            assert time.monotonic() < deadline, f"{what}: {await steps_run()}"
            await asyncio.sleep(0.02)

    try:
        async with thaw_host(pg_url, schema, "thawed", 1, tmp_path) as (thawed, ids):
            await until_steps([("hold", "thawed")], "the hold step never started")
            thawed.send_signal(signal.SIGSTOP)  # frozen while its step runs, holding the lease
            async with thaw_host(pg_url, schema, "taker", 0, tmp_path) as _:
                # the lease lapses; the other host takes the instance over and runs the hold step again
                await until_steps([("hold", "thawed"), ("hold", "taker")], "the other host never took over")
                thawed.send_signal(signal.SIGCONT)  # while the taker's step runs: it has written nothing yet
                deadline = time.monotonic() + 20
                while (instance := await store.get_workflow(ids[0])).status is not WorkflowStatus.COMPLETE:
                    assert time.monotonic() < deadline, "the workflow never completed"
                    await asyncio.sleep(0.05)
                await asyncio.sleep(1.0)  # anything else either host would still run
    finally:
        await store.close()

    runs = await steps_run()
    assert ("next", "thawed") not in runs, f"the thawed host ran the next step without a lease: {runs}"
    assert Counter(step for step, _ in runs) == {"hold": 2, "next": 1}, runs
    per_step = Counter(p.step_id for p in instance.execution_pointers)
    assert set(per_step.values()) == {1}, f"the thawed host's stale pass added pointers: {per_step}"
