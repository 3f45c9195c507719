"""Idempotent starts and schedules across host processes sharing one store (SQLite file and PostgreSQL):
three processes starting the same workflow id make one instance; three processes serving a schedule of one
tick a second start each tick once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from wfe import WorkflowHostBuilder, WorkflowStatus
from wfe_core.testing.services import service_url

from . import schedule_process

pytestmark = pytest.mark.slow
SCRIPT = Path(schedule_process.__file__)
HOSTS = 3


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """(url, schema) of an empty store the processes share; schema "-" for SQLite."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/shared.db", "-"
        return
    url = service_url("WFE_TEST_POSTGRES_URL")
    schema = f"wfe_t_{uuid.uuid4().hex[:10]}"
    yield url, schema
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _spawn(mode: str, store: tuple[str, str], log: Path, seconds: float) -> list[subprocess.Popen[bytes]]:
    log.touch()
    # every process is up (and its store migrated) before the moment they all act at once
    go_at = time.time() + 4.0
    return [
        subprocess.Popen([sys.executable, str(SCRIPT), mode, *store, str(log), str(go_at), str(seconds)])
        for _ in range(HOSTS)
    ]


async def run_hosts(mode: str, store: tuple[str, str], log: Path, seconds: float = 0.0) -> None:
    processes = _spawn(mode, store, log, seconds)
    codes = [await asyncio.to_thread(p.wait, 120) for p in processes]
    assert codes == [0] * HOSTS


async def stored(store: tuple[str, str], definition_id: str) -> list[Any]:
    url, schema = store
    builder = WorkflowHostBuilder()
    if schema == "-":
        builder.use_persistence(url)
    else:
        builder.use_persistence(url, schema=schema)
    host = builder.build()
    await host.persistence.ensure_store_exists()
    try:
        return await host.persistence.list_workflows(definition_id=definition_id, take=1000)
    finally:
        await host.persistence.close()


def step_runs(log: Path) -> Counter[str]:
    return Counter(line.split()[2] for line in log.read_text().splitlines() if line.startswith("run "))


@pytest.mark.timeout(300)
async def test_the_same_workflow_id_started_by_three_processes_makes_one_instance(store, tmp_path: Path):
    log = tmp_path / "runs.log"
    await run_hosts("start", store, log)
    instances = await stored(store, "raced")
    assert [(i.id, i.status) for i in instances] == [("race-1", WorkflowStatus.COMPLETE)]
    assert step_runs(log) == Counter({"race-1": 1})


@pytest.mark.timeout(300)
async def test_a_schedule_served_by_three_processes_starts_each_tick_once(store, tmp_path: Path):
    log = tmp_path / "runs.log"
    await run_hosts("schedule", store, log, seconds=10.0)
    instances = await stored(store, "ticked")
    ticks = sorted(datetime.strptime(i.id, "tick@%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) for i in instances)
    assert len(ticks) >= 8, f"only {len(ticks)} ticks in 10 s"
    # one instance per tick (ids are unique), and no tick between the first and the last was left out
    assert ticks == [ticks[0] + timedelta(seconds=n) for n in range(len(ticks))]
    runs = step_runs(log)
    # every run that started its step ran it once (the last tick may still be unstarted when the hosts stopped)
    assert set(runs.values()) == {1}
    assert set(runs) <= {i.id for i in instances}
    assert len(runs) >= len(instances) - HOSTS
