"""Host processes on PostgreSQL + Valkey: a host SIGKILLed mid-run, a Valkey server that restarts empty, and
lifecycle events crossing processes.

The workflows (``fleet_host.py``) record every step run in a PostgreSQL table; the test starts workflows and
publishes their events from its own, unstarted host (a client of the store and the queue), and reads what the
host processes did from that table, the store, the queue's keys and the lifecycle hub.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from redis.asyncio import Redis

from wfe import LifecycleEvent, WorkflowCompleted, WorkflowHost, WorkflowHostBuilder, WorkflowStatus
from wfe_core.models import QueueType
from wfe_core.testing.services import service_url
from wfe_valkey import ValkeyLifecycleHub
from wfe_valkey_tests.fleet_host import (
    DEFINITION_ID,
    EVENT_NAME,
    RECORDED_STEPS,
    create_runs_table,
    definition,
    new_data,
    runs_table,
)
from wfe_valkey_tests.host_processes import HostProcess, launch
from wfe_valkey_tests.redis_process import RedisProcess
from wfe_valkey_tests.workflow_state import describe

pytestmark = [pytest.mark.valkey, pytest.mark.postgres, pytest.mark.slow]

#: Concurrent workflows per host (the host's default on this machine is 8); bounds what a kill interrupts.
RUNS_PER_PASS = 2  # the parallel branches: at most two recorded steps run in one pass


@pytest.fixture
def pg_url() -> str:
    return service_url("WFE_TEST_POSTGRES_URL")


@pytest.fixture
async def schema(pg_url: str) -> AsyncIterator[str]:
    """A PostgreSQL schema of the test's own holding the run record; dropped afterwards."""
    name = f"wfe_fleet_test_{uuid.uuid4().hex[:12]}"
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        await conn.execute(create_runs_table(name))
    yield name
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        await conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@asynccontextmanager
async def fleet(log_dir: Path) -> AsyncIterator[Callable[..., Any]]:
    """Yields ``start(config) -> HostProcess``. On exit every process is stopped with SIGTERM, and each one the
    test did not kill must stop cleanly (``host.stop()`` returns, exit status 0) within the time allowed."""
    processes: list[HostProcess] = []

    async def start(config: dict[str, Any]) -> HostProcess:
        process = await launch(config, log_dir)
        processes.append(process)
        return process

    try:
        yield start
    except BaseException as exc:
        if isinstance(exc, Exception):
            exc.add_note(host_logs(processes))  # what the hosts logged explains most failures
        await asyncio.gather(*(process.stop() for process in processes))
        raise
    clean = await asyncio.gather(*(process.stop() for process in processes))
    unclean = [p.name for p, ok in zip(processes, clean, strict=True) if not ok and not p.killed]
    assert not unclean, f"hosts that did not stop cleanly on SIGTERM: {unclean}\n{host_logs(processes)}"


@asynccontextmanager
async def client(config: dict[str, Any]) -> AsyncIterator[WorkflowHost]:
    """A host that is never started: it only writes to the store and the queue (``start_workflow``,
    ``publish_event``), so every step runs in the host processes."""
    host = (
        WorkflowHostBuilder()
        .use_persistence(config["pg_url"], schema=config["schema"], max_pool_size=2)
        .use_lock(config["valkey_url"], prefix=config["prefix"])
        .use_queue(config["valkey_url"], prefix=config["prefix"])
        .build()
    )
    host.register_workflow(definition())
    await host.persistence.ensure_store_exists()
    await host.queue.start()
    try:
        yield host
    finally:
        await host.queue.stop()
        await host.persistence.close()


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator[psycopg.AsyncConnection[tuple[Any, ...]]]:
    """The test's one connection for reading the run record (the server's connections are shared)."""
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        yield conn


async def read_runs(pg: psycopg.AsyncConnection[Any], schema: str) -> dict[tuple[str, str], list[str]]:
    """(workflow id, step) -> the hosts that ran it, in order."""
    runs: dict[tuple[str, str], list[str]] = defaultdict(list)
    query = sql.SQL("SELECT workflow_id, step, host FROM {} ORDER BY id").format(runs_table(schema))
    for workflow_id, step, host in await (await pg.execute(query)).fetchall():
        runs[(workflow_id, step)].append(host)
    return runs


async def count_runs(pg: psycopg.AsyncConnection[Any], schema: str, host: str | None = None) -> int:
    query = sql.SQL("SELECT count(*) FROM {} WHERE %s::text IS NULL OR host = %s").format(runs_table(schema))
    row = await (await pg.execute(query, (host, host))).fetchone()
    assert row is not None
    return int(row[0])


async def wait_for_runs(
    pg: psycopg.AsyncConnection[Any], schema: str, at_least: int, host: str | None, within: float
) -> None:
    async with asyncio.timeout(within):
        while True:  # polls rows other processes insert
            if await count_runs(pg, schema, host) >= at_least:
                return
            await asyncio.sleep(0.1)


async def wait_all_complete(host: WorkflowHost, ids: list[str], within: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    for workflow_id in ids:
        try:
            instance = await host.wait_for_workflow(workflow_id, timeout=max(deadline - loop.time(), 0.1))
        except TimeoutError as exc:
            exc.add_note(await describe(host, workflow_id))
            raise
        assert instance.status is WorkflowStatus.COMPLETE, workflow_id


async def queue_backlog(admin: Redis, prefix: str) -> dict[str, int]:
    """What is waiting or in flight in the workflow and event queues (empty once everything was delivered)."""
    backlog: dict[str, int] = {}
    for queue in (QueueType.WORKFLOW, QueueType.EVENT):
        base = f"{prefix}:queue:{queue.value}"
        sizes = {
            "ready": await admin.llen(f"{base}:ready"),
            "waiting": await admin.scard(f"{base}:waiting"),
            "inflight": await admin.zcard(f"{base}:inflight"),
        }
        backlog.update({f"{queue.value}:{key}": size for key, size in sizes.items() if size})
    return backlog


async def assert_queues_drain(admin: Redis, prefix: str, within: float, poll_interval: float) -> None:
    """The queues empty out, and stay empty through a poll (the poller finds nothing left to re-drive)."""
    backlog: dict[str, int] = {}
    try:
        async with asyncio.timeout(within):
            while True:  # polls keys the hosts change
                backlog = await queue_backlog(admin, prefix)
                if not backlog:
                    break
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"the queues did not drain: {backlog}") from None
    await asyncio.sleep(poll_interval + 1.0)
    assert await queue_backlog(admin, prefix) == {}


def host_logs(hosts: list[HostProcess]) -> str:
    return "\n".join(f"--- {host.name}\n{host.log_tail()}" for host in hosts)


async def test_three_hosts_finish_300_workflows_when_one_is_killed_mid_run(
    pg_url: str,
    pg: psycopg.AsyncConnection[Any],
    schema: str,
    valkey_url: str,
    prefix: str,
    admin: Redis,
    tmp_path: Path,
) -> None:
    poll_interval = 2.0
    config = {
        "pg_url": pg_url,
        "schema": schema,
        "valkey_url": valkey_url,
        "prefix": prefix,
        "poll_interval": poll_interval,
        "lock_ttl": 3.0,
        "visibility_timeout": 5.0,
    }
    total = 300
    completed: list[str] = []

    def record(event: LifecycleEvent) -> None:
        if isinstance(event, WorkflowCompleted):
            completed.append(event.workflow_id)

    # The test's own subscriber sees every host's WorkflowCompleted, the killed host's included.
    hub = ValkeyLifecycleHub(valkey_url, prefix=prefix)
    hub.subscribe(record)
    await hub.start()
    try:
        async with fleet(tmp_path) as start, client(config) as driver:
            hosts = [await start({**config, "name": f"host-{n}"}) for n in range(3)]
            for host in hosts:
                await host.wait_ready()
            data = [new_data() for _ in range(total)]
            ids = [await driver.start_workflow(DEFINITION_ID, 1, item) for item in data]
            for item in data[: total // 2]:
                await driver.publish_event(EVENT_NAME, item["key"])
            victim = hosts[0]
            await wait_for_runs(pg, schema, total * len(RECORDED_STEPS) // 3, None, within=60)
            await wait_for_runs(pg, schema, 1, victim.name, within=30)
            victim.kill()
            await victim.process.wait()
            for item in data[total // 2 :]:
                await driver.publish_event(EVENT_NAME, item["key"])
            await wait_all_complete(driver, ids, within=60)
            await assert_queues_drain(admin, prefix, within=20, poll_interval=poll_interval)
            runs = await read_runs(pg, schema)
    finally:
        await hub.stop()

    interrupted: list[tuple[str, str, list[str]]] = []
    for workflow_id in ids:
        for step in RECORDED_STEPS:
            ran_on = runs.get((workflow_id, step), [])
            assert ran_on, f"step {step} of {workflow_id} never ran"
            # A step runs again only when the host running it was killed before its pass was written.
            assert all(host == victim.name for host in ran_on[:-1]), (workflow_id, step, ran_on)
            if len(ran_on) > 1:
                interrupted.append((workflow_id, step, ran_on))
    assert all(len(ran_on) == 2 for *_, ran_on in interrupted), interrupted
    max_inflight = driver.options.max_concurrent_workflows * RUNS_PER_PASS
    assert len(interrupted) <= max_inflight, interrupted
    assert {host for ran_on in runs.values() for host in ran_on} == {host.name for host in hosts}
    assert set(runs) == {(workflow_id, step) for workflow_id in ids for step in RECORDED_STEPS}

    completions = Counter(completed)
    assert set(completions) <= set(ids)
    for workflow_id in ids:
        if completions[workflow_id] == 0:
            # Only the killed host can have written a completion and died before publishing it.
            assert runs[(workflow_id, "finish")] == [victim.name], workflow_id
        else:
            assert completions[workflow_id] == 1, workflow_id
    # The killed host's passes in flight share commits (group commit), so each of the completions that one
    # commit made durable may have died unpublished: at most one per workflow it ran at once.
    unannounced = sum(1 for workflow_id in ids if completions[workflow_id] == 0)
    assert unannounced <= driver.options.max_concurrent_workflows


async def test_hosts_finish_every_workflow_when_the_valkey_server_restarts_empty(
    pg_url: str, pg: psycopg.AsyncConnection[Any], schema: str, tmp_path: Path
) -> None:
    server = RedisProcess(tmp_path)
    await server.start()
    prefix = f"wfe-test-{uuid.uuid4().hex}"
    # Items waiting or in flight are lost with the server's data. The hosts' runnable poller re-drives every
    # instance that is due and every unprocessed event: a short poll interval keeps that wait short.
    poll_interval = 1.0
    config = {
        "pg_url": pg_url,
        "schema": schema,
        "valkey_url": server.url,
        "prefix": prefix,
        "poll_interval": poll_interval,
        "lock_ttl": 3.0,
        "visibility_timeout": 5.0,
    }
    total = 150
    try:
        async with fleet(tmp_path) as start, client(config) as driver:
            hosts = [await start({**config, "name": f"host-{n}"}) for n in range(2)]
            for host in hosts:
                await host.wait_ready()
            data = [new_data() for _ in range(total)]
            ids = [await driver.start_workflow(DEFINITION_ID, 1, item) for item in data]
            for item in data[: total // 2]:
                await driver.publish_event(EVENT_NAME, item["key"])
            await wait_for_runs(pg, schema, total * len(RECORDED_STEPS) // 3, None, within=60)
            async with server.client() as admin:
                lost = await queue_backlog(admin, prefix)
            assert lost, "nothing was queued when the server stopped: raise the number of workflows"
            before = await server.run_id()
            await server.shutdown()
            await asyncio.sleep(1.0)  # the hosts see refused connections and keep retrying
            await server.start()
            assert await server.run_id() != before
            for item in data[total // 2 :]:
                await driver.publish_event(EVENT_NAME, item["key"])
            await wait_all_complete(driver, ids, within=60)
            async with server.client() as admin:
                await assert_queues_drain(admin, prefix, within=20, poll_interval=poll_interval)
            runs = await read_runs(pg, schema)
            for workflow_id in ids:
                for step in RECORDED_STEPS:
                    assert runs.get((workflow_id, step)), f"step {step} of {workflow_id} never ran"
            assert all(host.process.returncode is None for host in hosts)
    finally:
        await server.close()


async def test_a_lifecycle_event_raised_in_one_host_process_reaches_a_subscriber_in_another(
    pg_url: str, schema: str, valkey_url: str, prefix: str, tmp_path: Path
) -> None:
    config = {"pg_url": pg_url, "schema": schema, "valkey_url": valkey_url, "prefix": prefix}
    async with fleet(tmp_path) as start:
        listener = await start({**config, "name": "host-b", "print_events": True})
        await listener.wait_ready()
        # Host A starts the workflow itself, so its WorkflowStarted is raised in process A.
        starter = await start({**config, "name": "host-a", "start": 1})
        await starter.wait_ready()
        (workflow_id,) = starter.started
        async with asyncio.timeout(30):
            while True:
                line = await listener.read(30)
                if line.get("kind") == "WorkflowStarted" and line.get("workflow_id") == workflow_id:
                    break
