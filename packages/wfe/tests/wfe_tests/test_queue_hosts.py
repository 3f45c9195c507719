"""Queues with limits across host processes sharing a store (SQLite file, PostgreSQL): a concurrency limit
holds across hosts, and so does a rate limit (within one start)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from wfe import StepExecutionContext, WorkflowBuilder, WorkflowHostBuilder, WorkflowStatus
from wfe_core.testing.services import service_url

HOST = Path(__file__).with_name("queue_host.py")
PROCESSES = 3

pytestmark = pytest.mark.slow


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("sqlite+valkey", marks=pytest.mark.valkey),
    ]
)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[list[str]]:
    """The store arguments of queue_host.py (URL, schema or "-", then the Valkey queue URL and key prefix
    when Valkey is the queue provider), for a store no other test uses."""
    if request.param == "sqlite":
        yield [f"sqlite:///{tmp_path}/queue.db", "-"]
        return
    if request.param == "sqlite+valkey":
        valkey = service_url("WFE_TEST_VALKEY_URL")
        prefix = f"wfe-q-{uuid.uuid4().hex[:10]}"
        yield [f"sqlite:///{tmp_path}/queue.db", "-", valkey, prefix]
        from redis.asyncio import Redis

        client = Redis.from_url(valkey)
        keys = [key async for key in client.scan_iter(f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
        return
    url = service_url("WFE_TEST_POSTGRES_URL")
    schema = f"wfe_q_{uuid.uuid4().hex[:10]}"
    yield [url, schema]
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def records(log: Path, kind: str) -> list[tuple[str, float]]:
    found = []
    for line in log.read_text().splitlines() if log.exists() else []:
        parts = line.split()
        if parts[0] == kind:
            found.append((parts[1], float(parts[2])))
    return found


async def run_hosts(
    store: list[str], limit: str, total: int, tmp_path: Path
) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """Start ``total`` workflows from three host processes; return the START and END records once every
    workflow ended (bounded by two minutes)."""
    url, schema, *queue = store
    log = tmp_path / "runs.log"
    shares = [total // PROCESSES + (1 if n < total % PROCESSES else 0) for n in range(PROCESSES)]
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(HOST),
            url,
            schema,
            limit,
            str(share),
            str(log),
            *queue,
            stdin=asyncio.subprocess.PIPE,
        )
        for share in shares
    ]
    try:
        deadline = time.monotonic() + 120
        while len(records(log, "END")) < total:
            assert time.monotonic() < deadline, f"only {len(records(log, 'END'))} of {total} workflows ended"
            for process in processes:
                assert process.returncode is None, "a host process exited early"
            await asyncio.sleep(0.2)
    finally:
        for process in processes:
            assert process.stdin is not None
            process.stdin.close()
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), 60)
            except TimeoutError:
                process.kill()
                await process.wait()
    return records(log, "START"), records(log, "END")


async def test_concurrency_two_holds_across_three_hosts(store: list[str], tmp_path: Path) -> None:
    starts, ends = await run_hosts(store, "concurrency=2", 50, tmp_path)
    assert len({w for w, _ in ends}) == 50
    assert len(starts) == len(ends) == 50, "a step ran twice although no host died"
    edges = sorted([(t, 1) for _, t in starts] + [(t, -1) for _, t in ends])
    running = most = 0
    for _, change in edges:
        running += change
        most = max(most, running)
    assert most <= 2


async def test_a_rate_limit_holds_across_hosts_within_one_start(store: list[str], tmp_path: Path) -> None:
    _, ends = await run_hosts(store, "rate=10", 40, tmp_path)
    assert len({w for w, _ in ends}) == 40
    # The rate limit counts grants at the time the store decided them; a step starts later, after its host
    # got round to it (a loaded machine can bunch step starts that were granted apart).
    grants = records(tmp_path / "runs.log", "GRANT")
    assert len({w for w, _ in grants}) == 40, grants
    times = sorted(t for _, t in grants)
    for i, first in enumerate(times):
        assert sum(1 for t in times[i:] if t < first + 1.0) <= 10 + 1
    assert times[-1] - times[0] >= 2.0  # forty starts at ten a second span more than three windows


async def test_the_slot_of_a_host_that_died_is_freed_with_its_lease(tmp_path: Path) -> None:
    url, log = f"sqlite:///{tmp_path}/queue.db", tmp_path / "runs.log"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HOST),
        url,
        "-",
        "concurrency=1",
        "1",
        str(log),
        stdin=asyncio.subprocess.PIPE,
        env={**os.environ, "QUEUE_HOST_STEP_SECONDS": "600", "QUEUE_HOST_LOCK_TTL": "15"},
    )
    try:
        deadline = time.monotonic() + 60
        while not records(log, "START"):
            assert time.monotonic() < deadline, "the host process never started its step"
            await asyncio.sleep(0.1)
    finally:
        process.kill()  # holding the queue's only slot, mid-step
        await process.wait()
    ((stuck, _),) = records(log, "START")

    ran: list[str] = []

    async def work(ctx: StepExecutionContext) -> None:
        ran.append(ctx.workflow.id)

    host = (
        WorkflowHostBuilder()
        .use_persistence(url)
        .with_options(poll_interval=timedelta(seconds=1), lock_ttl=timedelta(seconds=5))
        .add_queue("limited", concurrency=1)
        .build()
    )
    host.register_workflow(WorkflowBuilder().then_fn(work, name="work").build("queued", 1))
    async with host:
        fresh = await host.start_workflow("queued", 1, queue="limited")
        state = await host.persistence.queue_state("limited", host.clock.now())
        assert state.held == [stuck]  # the dead host's slot, until its lease (15 s) lapses
        assert fresh not in ran
        # both run once the dead host's lease and slot lapse: its instance again, and the new one
        for workflow_id in (fresh, stuck):
            done = await host.wait_for_workflow(workflow_id, timeout=60)
            assert done.status is WorkflowStatus.COMPLETE
    assert sorted(ran) == sorted([fresh, stuck])
