"""An instance whose definition is not registered is retried with backoff, not spun on."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from wfe import WorkflowBuilder, WorkflowHostBuilder, WorkflowStatus
from wfe_core.providers.memory import MemoryLock, MemoryPersistence, MemoryQueue


async def test_missing_definition_records_an_error_and_backs_off_until_registered():
    store, queue, lock = MemoryPersistence(), MemoryQueue(), MemoryLock()
    definition = WorkflowBuilder().then_fn(lambda ctx: None).build("later", 1)
    first = WorkflowHostBuilder().use_persistence(store).use_queue(queue).use_lock(lock).build()
    first.register_workflow(definition)
    await first.start()
    await first.suspend_workflow(wid := await first.start_workflow("later"))
    await first.stop()

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
