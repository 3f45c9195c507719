"""An event handed to a run that then loses its lease must still reach the workflow.

The host's event consumer gives an event for an instance this host is advancing to that run
(``EventDelivery.deliver``). When the run's pass then fails because its lease was lost (a lease that lapsed, a
Valkey server that lost its data), the event must not be lost: it stays unprocessed until some run applied it,
and the consumer (or the poller) delivers it once the lock is free. Found by the Valkey restart test
(``test_fleet.py``), where the event used to be marked processed at hand-over and never delivered; this test
makes the same sequence happen on purpose.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import psycopg
import pytest
from psycopg import sql
from redis.asyncio import Redis

from wfe import ExecutionResult, StepBody, StepExecutionContext, WorkflowBuilder, WorkflowHostBuilder
from wfe_core.builder import BranchBuilder
from wfe_core.testing.services import service_url
from wfe_valkey import ValkeyLock
from wfe_valkey_tests.workflow_state import describe

pytestmark = [pytest.mark.valkey, pytest.mark.postgres]

gate = asyncio.Event()
gated_step_running = asyncio.Event()


class Gated(StepBody):
    """Runs until the test opens the gate, so the pass is in progress while the test acts."""

    async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        gated_step_running.set()
        await gate.wait()
        return ExecutionResult.next()


def _waiting(branch: BranchBuilder) -> None:
    branch.wait_for("go", lambda data: data["key"])


def _gated(branch: BranchBuilder) -> None:
    branch.start_with(StepBody).then(Gated)


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    url = service_url("WFE_TEST_POSTGRES_URL")
    name = f"wfe_lost_lease_{uuid.uuid4().hex[:12]}"
    yield name
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


async def test_an_event_handed_to_a_run_that_loses_its_lease_is_still_delivered(
    schema: str, valkey_url: str, prefix: str, admin: Redis
) -> None:
    gate.clear()
    gated_step_running.clear()
    host = (
        WorkflowHostBuilder()
        .use_persistence(service_url("WFE_TEST_POSTGRES_URL"), schema=schema)
        .use_lock(valkey_url, prefix=prefix)
        .use_queue(valkey_url, prefix=prefix, visibility_timeout=2.0)
        .with_options(lock_ttl=timedelta(seconds=1.5), poll_interval=timedelta(seconds=1))
        .build()
    )
    host.register_workflow(
        WorkflowBuilder()
        .start_with(StepBody)
        .parallel()
        .do(_waiting)
        .do(_gated)
        .join()
        .build("lost-lease", 1)
    )
    other_host = ValkeyLock(valkey_url, prefix=prefix)
    await host.start()
    try:
        key = uuid.uuid4().hex
        workflow_id = await host.start_workflow("lost-lease", 1, {"key": key})
        await asyncio.wait_for(gated_step_running.wait(), 15)  # the wait_for pointer subscribed a pass ago
        event_id = await host.publish_event("go", key)
        await asyncio.sleep(0.5)  # the consumer hands the event to the run, which applies it after its pass
        event = await host.persistence.get_event(event_id)
        assert not event.is_processed, "an event handed to a run is processed only once the run applied it"
        # The server forgets the lease and another host takes the instance, as after a Valkey restart.
        await admin.delete(f"{prefix}:lock:{workflow_id}")
        lease = await other_host.acquire(workflow_id, timedelta(seconds=3))
        assert lease is not None
        await asyncio.sleep(1.0)  # the run's renewal notices that its lease is gone
        gate.set()  # the pass ends, refuses to write, and the run gives up
        await asyncio.sleep(1.0)
        await other_host.release(lease)
        try:
            instance = await host.wait_for_workflow(workflow_id, timeout=15)
        except TimeoutError as exc:
            exc.add_note(await describe(host, workflow_id))
            raise
        assert instance.status.value == "Complete"
    finally:
        gate.set()
        await host.stop()
        await other_host.stop()
