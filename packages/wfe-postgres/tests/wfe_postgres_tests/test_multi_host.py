"""Several hosts on one PostgreSQL database share one workflow population (persistence, queue and lock)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import timedelta

import pytest

from wfe import (
    ExecutionResult,
    StepBody,
    StepExecutionContext,
    WorkflowBuilder,
    WorkflowHost,
    WorkflowHostBuilder,
)
from wfe_core.definition import WorkflowDefinition
from wfe_core.models import WorkflowStatus

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

STEPS = 4
WORKFLOWS = 24


def recording_definition(host_name: str, runs: list[tuple[str, str, str]]) -> WorkflowDefinition:
    """A four-step workflow whose steps record (host, workflow id, pointer id) and take a little time."""

    class Record(StepBody):
        async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
            runs.append((host_name, ctx.workflow.id, ctx.pointer.id))
            await asyncio.sleep(0.02)
            return ExecutionResult.next()

    builder = WorkflowBuilder().start_with(Record)
    for _ in range(STEPS - 1):
        builder = builder.then(Record)
    return builder.build("multi-host", 1)


def host_on(url: str, schema: str, name: str, runs: list[tuple[str, str, str]]) -> WorkflowHost:
    # application_name gives each host a pool of its own, as separate processes would have
    host = (
        WorkflowHostBuilder()
        .use_persistence(f"{url}{'&' if '?' in url else '?'}application_name={name}", schema=schema)
        .with_options(poll_interval=timedelta(seconds=1), lock_ttl=timedelta(seconds=5))
        .build()
    )
    host.register_workflow(recording_definition(name, runs))
    return host


async def test_two_hosts_share_the_work_and_run_every_step_once(pg_url: str, schema: str) -> None:
    runs: list[tuple[str, str, str]] = []
    hosts = [host_on(pg_url, schema, f"host_{n}_{uuid.uuid4().hex[:6]}", runs) for n in range(2)]
    for host in hosts:
        await host.start()
    try:
        # start on both hosts: either may advance any instance
        ids = [await hosts[n % 2].start_workflow("multi-host", 1, {}) for n in range(WORKFLOWS)]
        done = await asyncio.gather(
            *(hosts[(n + 1) % 2].wait_for_workflow(i, timeout=60) for n, i in enumerate(ids))
        )
    finally:
        for host in hosts:
            await host.stop()
    assert all(instance.status is WorkflowStatus.COMPLETE for instance in done)
    per_pointer = Counter((workflow_id, pointer_id) for _, workflow_id, pointer_id in runs)
    assert len(per_pointer) == WORKFLOWS * STEPS
    assert set(per_pointer.values()) == {1}, "a step ran twice although no host died"
    assert len({host for host, _, _ in runs}) == 2, "one host did all the work"
