"""HostOptions.accept: a host runs steps only of the instances it accepts and leaves the others as they are."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from wfe import WorkflowBuilder, WorkflowHost, WorkflowHostBuilder, WorkflowStatus
from wfe_core.providers.memory import MemoryLock, MemoryPersistence, MemoryQueue


async def test_a_host_leaves_alone_the_instances_it_does_not_accept() -> None:
    store, lock = MemoryPersistence(), MemoryLock()
    ran: list[str] = []
    definition = (
        WorkflowBuilder()
        .then_fn(lambda ctx: ran.append(ctx.workflow.reference), name="step")
        .build("shared", 1)
    )

    def host(**options: object) -> WorkflowHost:
        built = (
            WorkflowHostBuilder()
            .use_persistence(store)
            .use_lock(lock)
            .use_queue(MemoryQueue())
            .with_options(poll_interval=timedelta(milliseconds=50), **options)
            .build()
        )
        built.register_workflow(definition)
        return built

    picky = host(accept=lambda instance: instance.reference == "mine")
    async with picky:
        theirs = await picky.start_workflow("shared", reference="theirs")
        mine = await picky.start_workflow("shared", reference="mine")
        done = await picky.wait_for_workflow(mine, 10)
        assert done.status is WorkflowStatus.COMPLETE
        await asyncio.sleep(0.3)  # several polls find the other one runnable
        left = await store.get_workflow(theirs)
        assert left.status is WorkflowStatus.RUNNABLE
        assert await store.get_errors(theirs) == []  # no "not registered" or other error written into it
    assert ran == ["mine"]

    other = host()
    async with other:
        finished = await other.wait_for_workflow(theirs, 10)
    assert finished.status is WorkflowStatus.COMPLETE
    assert ran == ["mine", "theirs"]
