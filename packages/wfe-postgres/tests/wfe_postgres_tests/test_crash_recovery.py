"""A host killed mid-step: another host on the same database finishes every workflow."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from wfe_core.models import WorkflowStatus

from .crash_worker import STEPS, crash_host

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WORKFLOWS = 12


async def rows(url: str, query: sql.Composed) -> list[tuple[object, ...]]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(query)
        return list(await cur.fetchall())


async def test_a_killed_hosts_workflows_are_finished_by_another_host(pg_url: str, schema: str) -> None:
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        await conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        await conn.execute(
            sql.SQL("CREATE TABLE {} (workflow_id TEXT, pointer_id TEXT, host TEXT)").format(
                sql.Identifier(schema, "runs")
            )
        )
    runs = sql.SQL("SELECT workflow_id, pointer_id, host FROM {}").format(sql.Identifier(schema, "runs"))
    workflows = sql.SQL("SELECT id FROM {}").format(sql.Identifier(schema, "workflows"))

    async def all_started_and_some_running() -> bool:
        if len(await rows(pg_url, runs)) < 4:
            return False
        return len(await rows(pg_url, workflows)) == WORKFLOWS

    worker = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__).with_name("crash_worker.py")), pg_url, schema, str(WORKFLOWS)
    )
    try:
        deadline = time.monotonic() + 60
        while not await all_started_and_some_running():
            assert worker.returncode is None, "the worker host exited before it was killed"
            assert time.monotonic() < deadline, "the worker host never started a step"
            await asyncio.sleep(0.05)
    finally:
        if worker.returncode is None:
            worker.send_signal(signal.SIGKILL)
        await worker.wait()
    in_flight_at_kill = {(w, p) for w, p, _ in await rows(pg_url, runs)}

    survivor = crash_host(pg_url, schema, "survivor")
    await survivor.start()
    try:
        ids = [str(r[0]) for r in await rows(pg_url, workflows)]
        assert len(ids) == WORKFLOWS
        done = await asyncio.gather(*(survivor.wait_for_workflow(i, timeout=90) for i in ids))
    finally:
        await survivor.stop()

    assert all(instance.status is WorkflowStatus.COMPLETE for instance in done)
    ran = Counter((w, p) for w, p, _ in await rows(pg_url, runs))
    pointers = {(i.id, p.id) for i in done for p in i.execution_pointers}
    assert len(pointers) == WORKFLOWS * STEPS
    assert pointers <= set(ran), "a step never ran"
    repeated = {key for key, n in ran.items() if n > 1}
    # steps are at-least-once: only a step that had begun on the killed host may run a second time
    assert repeated <= in_flight_at_kill
    assert {h for *_, h in await rows(pg_url, runs)} == {"doomed", "survivor"}
