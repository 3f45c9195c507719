"""New instances started on a host whose workflow slots are all busy: they wait here, leased, in line for a
slot (up to ten per slot, up to a second each), then go to the queue for any host; nothing is lost or run
twice, and the queue's own items get their turns."""

from __future__ import annotations

import asyncio
from typing import Any

from wfe import (
    StepExecutionContext,
    WorkflowBuilder,
    WorkflowStatus,
)
from wfe._reservations import LINE_PER_SLOT
from wfe_core.models import QueueType

from .test_recovery import Overlap, _CountingQueue, _no_poller, store_runnable


async def _until(check: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def _gated(name: str) -> tuple[Any, asyncio.Event, list[str]]:
    gate = asyncio.Event()
    ran: list[str] = []

    async def wait_for_gate(ctx: StepExecutionContext) -> None:
        ran.append(ctx.workflow.id)
        await gate.wait()

    return WorkflowBuilder().then_fn(wait_for_gate).build(name, 1), gate, ran


async def test_starts_on_a_full_host_run_here_as_slots_free_without_the_queue(make_host):
    overlap = Overlap(0.02)
    definition = WorkflowBuilder().then_fn(overlap.step).then_fn(overlap.step).build("short", 1)
    host = await make_host(definition, max_concurrent_workflows=2)
    _no_poller(host)
    queue = _CountingQueue(host)
    ids = await asyncio.gather(*(host.start_workflow("short") for _ in range(12)))
    for wid in ids:
        assert (await host.wait_for_workflow(wid, timeout=10)).status is WorkflowStatus.COMPLETE
    assert queue.queued == [], "each waited here for a slot and ran once one was free"
    assert overlap.most <= 2


async def test_starts_beyond_the_line_are_queued_at_once_and_those_in_line_after_a_second(make_host):
    definition, gate, ran = _gated("busy")
    host = await make_host(definition, max_concurrent_workflows=1)
    _no_poller(host)
    queue = _CountingQueue(host)
    ids = [await host.start_workflow("busy") for _ in range(1 + LINE_PER_SLOT + 2)]
    # one runs, LINE_PER_SLOT wait here in line for its slot, and the last two are queued for any host at once
    assert set(queue.queued) == set(ids[1 + LINE_PER_SLOT :])
    await _until(lambda: set(queue.queued) == set(ids[1:]))  # the line's second is up: queued too
    assert ran == ids[:1]
    gate.set()
    for wid in ids:
        assert (await host.wait_for_workflow(wid, timeout=10)).status is WorkflowStatus.COMPLETE
    assert sorted(ran) == sorted(ids), "each ran once"


async def test_a_terminate_asked_of_an_instance_in_line_is_applied(make_host):
    definition, gate, ran = _gated("busy")
    host = await make_host(definition, max_concurrent_workflows=1)
    first = await host.start_workflow("busy")
    waiting = await host.start_workflow("busy")
    assert await host.terminate_workflow(waiting)
    # its wait ends without a slot (the gate stays shut): the terminate is stored, and nothing queued runs it
    assert (await host.wait_for_workflow(waiting, timeout=5)).status is WorkflowStatus.TERMINATED
    gate.set()
    assert (await host.wait_for_workflow(first, timeout=5)).status is WorkflowStatus.COMPLETE
    assert ran == [first]


async def test_a_stopping_host_lets_go_of_the_instances_in_line_at_once(make_host):
    definition, gate, ran = _gated("busy")
    host = await make_host(definition, max_concurrent_workflows=1, stop_timeout=0.2)
    _no_poller(host)
    queue = _CountingQueue(host)
    ids = [await host.start_workflow("busy") for _ in range(3)]
    assert queue.queued == []
    loop = asyncio.get_running_loop()
    began = loop.time()
    await host.stop()
    assert loop.time() - began < 0.9, "the line's wait (a second) was cut short"
    assert set(queue.queued) >= set(ids[1:]), "those in line were queued for any host"
    gate.set()
    await host.start()  # (the first, cut short by the stop timeout, is left to the poller, switched off here)
    for wid in ids[1:]:
        assert (await host.wait_for_workflow(wid, timeout=10)).status is WorkflowStatus.COMPLETE


async def test_queued_work_gets_turns_while_starts_keep_a_full_host_busy(make_host):
    """The queue consumer stands in the same line as the new instances waiting here, so an instance queued
    by another host runs while starts keep coming faster than this host ends runs."""

    async def step(ctx: StepExecutionContext) -> None:
        await asyncio.sleep(0.03)

    host = await make_host(WorkflowBuilder().then_fn(step).build("steady", 1), max_concurrent_workflows=1)
    _no_poller(host)
    streaming = True

    async def stream() -> None:
        while streaming:
            await host.start_workflow("steady")
            await asyncio.sleep(0.01)

    streamer = asyncio.create_task(stream())
    try:
        await _until(lambda: host._runner.reservations.waiting >= 2)  # full, with starts in line
        wid = await store_runnable(host, "steady")  # as another host stores and queues one
        await host.queue.enqueue(QueueType.WORKFLOW, wid)
        assert (await host.wait_for_workflow(wid, timeout=3)).status is WorkflowStatus.COMPLETE
        assert host._runner.reservations.waiting >= 1, "starts were still waiting in line meanwhile"
    finally:
        streaming = False
        await streamer
