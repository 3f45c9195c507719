"""Safety nets: the poller finds runnable work whose wake-up was lost; stop() waits for running steps."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from wfe import (
    ExecutionPointer,
    StepExecutionContext,
    StepStarted,
    WorkflowBuilder,
    WorkflowInstance,
    WorkflowStatus,
)


async def store_runnable(host, definition_id: str) -> str:
    """Store a runnable instance of version 1 straight into the host's store, as another host would."""
    now = host.clock.now()
    instance = WorkflowInstance(
        workflow_definition_id=definition_id,
        version=1,
        data={},
        next_execution=now,
        create_time=now,
        execution_pointers=[ExecutionPointer(step_id=0)],
    )
    return await host.persistence.create_workflow(instance)


async def test_poller_runs_an_instance_nobody_queued(make_host):
    definition = WorkflowBuilder().then_fn(lambda ctx: None).build("orphan", 1)
    host = await make_host(definition, poll_interval=timedelta(milliseconds=200))
    wid = await store_runnable(host, "orphan")  # stored, never queued: like a host that died
    done = await host.wait_for_workflow(wid, timeout=5)
    assert done.status is WorkflowStatus.COMPLETE


async def test_stop_waits_for_running_steps_and_persists_their_results(make_host):
    started = asyncio.Event()
    finished: list[bool] = []

    async def slow(ctx: StepExecutionContext) -> None:
        started.set()
        await asyncio.sleep(0.5)
        finished.append(True)

    definition = WorkflowBuilder().then_fn(slow).delay(timedelta(hours=1)).build("graceful", 1)
    host = await make_host(definition)
    step_starts: list[int] = []
    host.on_lifecycle_event(lambda e: step_starts.append(e.step_id) if isinstance(e, StepStarted) else None)
    wid = await host.start_workflow("graceful")
    await asyncio.wait_for(started.wait(), 5)
    await host.stop()
    assert finished == [True]
    assert step_starts == [0], "no new step starts once stop() has begun"
    await host.start()  # a host can be started again after stop()
    instance = await host.get_workflow(wid)
    first = next(p for p in instance.execution_pointers if p.step_id == 0)
    assert first.end_time is not None, (
        "the step that was running when stop() was called completed and was saved"
    )


async def test_stop_right_after_start_workflow_returns_promptly(make_host):
    definition = WorkflowBuilder().then_fn(lambda ctx: None).delay(timedelta(hours=1)).build("quick-stop", 1)
    for _ in range(3):
        host = await make_host(definition)
        await host.start_workflow("quick-stop")
        await asyncio.wait_for(host.stop(), 15)


class _CountingQueue:
    """Wraps the host's queue to record which ids of ``kind`` (workflow or event) went through it."""

    def __init__(self, host, kind: str = "workflow") -> None:
        self.queued: list[str] = []
        enqueue = host.queue.enqueue

        async def counting(queue_type, item_id):
            if queue_type.value == kind:
                self.queued.append(item_id)
            await enqueue(queue_type, item_id)

        host.queue.enqueue = counting


def _no_poller(host) -> None:
    """Keep the safety-net poller (which queues every runnable instance it finds) out of the count. Called
    right after the host started, before its poller task first ran."""

    async def nothing() -> None:
        return None

    host._consumers.poll_once = nothing


async def test_a_poll_leaves_alone_an_instance_whose_run_here_ended_while_it_read(make_host):
    """The poller's read may predate a run's last write: an instance a run here advanced while the store was
    read is not queued, though its run has ended by the time the read is back (it would be taken up again,
    leased and loaded, for nothing)."""
    release = asyncio.Event()

    async def held(ctx: StepExecutionContext) -> None:
        await release.wait()

    host = await make_host(WorkflowBuilder().then_fn(held).build("held", 1))
    consumers = host._consumers
    poll = consumers.poll_once
    _no_poller(host)
    workflow_id = await host.start_workflow("held")
    read = consumers.persistence.get_runnable_instances
    found: list[str] = []

    async def reading(now):
        ids = await read(now)
        found.extend(ids)
        release.set()  # the run ends before the read is back
        await host.wait_for_workflow(workflow_id, timeout=10)
        return ids

    consumers.persistence.get_runnable_instances = reading
    queue = _CountingQueue(host)
    await consumers.release_held()
    await poll()
    assert workflow_id in found  # read while it ran
    assert queue.queued == []


async def test_a_host_with_free_slots_runs_what_it_starts_without_the_queue(make_host):
    definition = WorkflowBuilder().then_fn(lambda ctx: None).then_fn(lambda ctx: None).build("here", 1)
    host = await make_host(definition)
    _no_poller(host)
    queue = _CountingQueue(host)
    ids = await asyncio.gather(*(host.start_workflow("here") for _ in range(5)))
    for wid in ids:
        assert (await host.wait_for_workflow(wid, timeout=5)).status is WorkflowStatus.COMPLETE
    assert queue.queued == []


async def test_with_start_locally_off_every_start_goes_through_the_queue(make_host):
    definition = WorkflowBuilder().then_fn(lambda ctx: None).build("busy", 1)
    other = await make_host(definition, start_locally=False)
    other_queue = _CountingQueue(other)
    wid = await other.start_workflow("busy")
    assert set(other_queue.queued) == {wid}
    assert (await other.wait_for_workflow(wid, timeout=5)).status is WorkflowStatus.COMPLETE


class Overlap:
    """A step (``overlap.step``) that counts how many of its runs overlap; ``most`` is the highest count."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.running = self.most = 0

    async def step(self, ctx: StepExecutionContext) -> None:
        self.running += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(self.seconds)
        self.running -= 1


async def test_no_more_instances_run_at_once_than_the_host_has_slots(make_host):
    """Runs started here (new instances, event deliveries carried on) and queue items share the slots."""
    overlap = Overlap(0.05)
    busy = overlap.step

    definition = (
        WorkflowBuilder()
        .then_fn(busy)
        .wait_for("go", lambda data, ctx: ctx.workflow.id)
        .then_fn(busy)
        .build("slots", 1)
    )
    host = await make_host(definition, max_concurrent_workflows=2)
    ids = [await host.start_workflow("slots") for _ in range(6)]
    for wid in ids:
        await host.publish_event("go", wid)
    ids += [await host.start_workflow("slots") for _ in range(4)]
    for wid in ids[6:]:
        await host.publish_event("go", wid)
    for wid in ids:
        assert (await host.wait_for_workflow(wid, timeout=10)).status is WorkflowStatus.COMPLETE
    assert overlap.most == 2


async def test_an_instance_started_here_survives_a_failing_first_write(make_host):
    """A store error while running a new instance leaves it runnable; the poller finishes it."""
    definition = WorkflowBuilder().then_fn(lambda ctx: None).build("flaky", 1)
    host = await make_host(definition, poll_interval=timedelta(milliseconds=200))
    failures = [RuntimeError("the store is briefly unreachable")]

    def flaky(write):
        async def write_or_fail(*args, **kwargs):
            if failures:
                raise failures.pop()
            await write(*args, **kwargs)

        return write_or_fail

    # the run's only pass completes it: a store that can release the lease with it writes it that way
    for method in ("persist_workflow", "persist_workflow_released"):
        if hasattr(host.persistence, method):
            setattr(host.persistence, method, flaky(getattr(host.persistence, method)))
    wid = await host.start_workflow("flaky")
    assert (await host.wait_for_workflow(wid, timeout=10)).status is WorkflowStatus.COMPLETE
    assert failures == []


async def test_a_start_cancelled_after_storing_still_runs_and_frees_its_slot(make_host):
    definition = WorkflowBuilder().then_fn(lambda ctx: None).build("cancelled-start", 1)
    host = await make_host(definition, max_concurrent_workflows=1)
    host.on_lifecycle_event(lambda event: None)  # someone takes WorkflowStarted: the start publishes it
    publish = host._publish
    stalled = asyncio.Event()

    async def stalling(*events):
        stalled.set()
        await asyncio.sleep(30)

    host._publish = stalling
    start = asyncio.create_task(host.start_workflow("cancelled-start"))
    await asyncio.wait_for(stalled.wait(), 5)
    start.cancel()
    host._publish = publish
    with contextlib.suppress(asyncio.CancelledError):
        await start
    (stored,) = await host.persistence.list_workflows(definition_id="cancelled-start")
    assert (await host.wait_for_workflow(stored.id, timeout=5)).status is WorkflowStatus.COMPLETE
    for _ in range(50):
        if host._runner.slots.busy == 0:
            break
        await asyncio.sleep(0.01)
    assert host._runner.slots.busy == 0


async def test_stop_leaves_no_task_it_started_behind(make_host):
    """Runs, queue handlers, the runs they start, wake-up timers (pending or firing) and the loops: stop()
    waits for each, or cancels it and waits for it to end."""
    definition = (
        WorkflowBuilder()
        .then_fn(lambda ctx: None)
        .wait_for("go", lambda data, ctx: ctx.workflow.id)
        .delay(timedelta(hours=1))
        .build("leaves-nothing", 1)
    )
    before = asyncio.all_tasks()
    host = await make_host(definition)
    ids = [await host.start_workflow("leaves-nothing") for _ in range(5)]
    for wid in ids:
        await host.wait_for_workflow(wid, timeout=5, statuses=[WorkflowStatus.RUNNABLE])
        await host.publish_event("go", wid)
    await host.publish_event("go", "later", effective_date=host.clock.now() + timedelta(hours=1))
    await asyncio.sleep(0.2)  # deliveries, carried-on runs and timers are under way
    await host.stop()
    left = {t for t in asyncio.all_tasks() - before if t is not asyncio.current_task() and not t.done()}
    assert not left, left
