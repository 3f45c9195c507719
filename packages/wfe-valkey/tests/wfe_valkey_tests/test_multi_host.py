"""Several hosts on PostgreSQL + Valkey: shared work, shared lifecycle events, and recovery from a killed host."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from redis.asyncio import Redis

from wfe import LifecycleEvent, WorkflowCompleted, WorkflowHost, WorkflowStatus
from wfe_core.testing.services import service_url
from wfe_valkey_tests.counted_workflow import DEFINITION_ID, build_host, runs_key

pytestmark = [pytest.mark.valkey, pytest.mark.postgres, pytest.mark.slow]

HOST_SCRIPT = Path(__file__).with_name("counted_workflow.py")


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    """A PostgreSQL schema of the test's own, dropped afterwards."""
    url = service_url("WFE_TEST_POSTGRES_URL")
    name = f"wfe_valkey_test_{uuid.uuid4().hex[:12]}"
    yield name
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture
def pg_url() -> str:
    return service_url("WFE_TEST_POSTGRES_URL")


async def test_two_hosts_share_the_work_and_see_every_event(
    pg_url: str, schema: str, valkey_url: str, prefix: str, admin: Redis
) -> None:
    hosts = [build_host(pg_url, schema, f"{valkey_url}?client_name={prefix}-{n}", prefix) for n in range(2)]
    completed: list[list[str]] = [[], []]
    for host, seen in zip(hosts, completed, strict=True):

        def record(event: LifecycleEvent, seen: list[str] = seen) -> None:
            if isinstance(event, WorkflowCompleted):
                seen.append(event.workflow_id)

        host.on_lifecycle_event(record)
        await host.start()
    try:
        data = {"valkey": valkey_url, "prefix": prefix}
        ids = [await hosts[n % 2].start_workflow(DEFINITION_ID, 1, data) for n in range(30)]
        for workflow_id in ids:
            instance = await hosts[0].wait_for_workflow(workflow_id, timeout=30)
            assert instance.status is WorkflowStatus.COMPLETE
        for workflow_id in ids:
            runs = [
                await admin.get(runs_key(prefix, workflow_id, step)) for step in ("first", "middle", "last")
            ]
            assert runs == ["1", "1", "1"], workflow_id
        await wait_until(lambda: all(len(seen) >= len(ids) for seen in completed))
        await asyncio.sleep(0.3)
        for seen in completed:
            assert Counter(seen) == Counter(ids)  # every host saw each completion once
    finally:
        for host in hosts:
            await host.stop()


@pytest.mark.parametrize(
    ("start", "survivor_poll_interval"),
    [
        # A long poll interval: a queued workflow must come back through the queue's visibility timeout.
        ("queued", 60.0),
        # Started on the host that was killed, it never was in the queue: the survivor's poller finds it
        # runnable once the dead host's lease lapsed.
        ("local", 1.0),
    ],
)
async def test_a_workflow_whose_host_was_killed_mid_step_is_finished_by_another_host(
    pg_url: str,
    schema: str,
    valkey_url: str,
    prefix: str,
    admin: Redis,
    start: str,
    survivor_poll_interval: float,
) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HOST_SCRIPT),
        pg_url,
        schema,
        valkey_url,
        prefix,
        start,
        stdout=asyncio.subprocess.PIPE,
    )
    survivor: WorkflowHost | None = None
    try:
        assert child.stdout is not None
        workflow_id = (await asyncio.wait_for(child.stdout.readline(), timeout=30)).decode().strip()
        assert workflow_id, "the host process did not start its workflow"
        middle = runs_key(prefix, workflow_id, "middle")
        await wait_until_async(lambda: admin.exists(middle), within=30.0)
        survivor = build_host(
            pg_url, schema, valkey_url, prefix, poll_interval=timedelta(seconds=survivor_poll_interval)
        )
        await survivor.start()
        child.kill()
        await child.wait()
        instance = await survivor.wait_for_workflow(workflow_id, timeout=20)
        assert instance.status is WorkflowStatus.COMPLETE
        runs = [await admin.get(runs_key(prefix, workflow_id, step)) for step in ("first", "middle", "last")]
        assert runs == ["1", "2", "1"]  # only the step that was running when the host died ran again
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
        if survivor is not None:
            await survivor.stop()


async def wait_until(condition: Callable[[], bool], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while True:  # polls state that changes without a signal to wait on
            if condition():
                return
            await asyncio.sleep(0.02)


async def wait_until_async(condition: Callable[[], Awaitable[object]], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while True:  # polls a key another process writes
            if await condition():
                return
            await asyncio.sleep(0.02)
