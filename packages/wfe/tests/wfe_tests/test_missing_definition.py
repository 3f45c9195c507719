"""An instance whose definition is not registered is retried with backoff, not spun on."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from wfe import ExecutionPointer, WorkflowBuilder, WorkflowHostBuilder, WorkflowInstance, WorkflowStatus
from wfe_core.providers.memory import MemoryLock, MemoryPersistence, MemoryQueue


async def test_missing_definition_records_an_error_and_backs_off_until_registered():
    store = MemoryPersistence()
    definition = WorkflowBuilder().then_fn(lambda ctx: None).build("later", 1)
    now = datetime.now(UTC)
    # An instance written by a host that knew the definition, now suspended: this host does not know it yet.
    wid = await store.create_workflow(
        WorkflowInstance(
            workflow_definition_id="later",
            version=1,
            status=WorkflowStatus.SUSPENDED,
            data={},
            create_time=now,
            execution_pointers=[ExecutionPointer(step_id=0)],
        )
    )

    second = (
        WorkflowHostBuilder()
        .use_persistence(store)
        .use_queue(MemoryQueue())
        .use_lock(MemoryLock())
        .with_options(missing_definition_backoff=timedelta(milliseconds=100))
        .build()
    )
    await second.start()
    try:
        await second.resume_workflow(wid)
        await asyncio.sleep(0.5)
        errors = await second.get_errors(wid)
        assert 1 <= len(errors) <= 4, f"backoff expected, got {len(errors)} attempts"
        assert "not registered" in errors[0].message
        second.register_workflow(definition)
        done = await second.wait_for_workflow(wid, timeout=5)
        assert done.status is WorkflowStatus.COMPLETE
    finally:
        await second.stop()
