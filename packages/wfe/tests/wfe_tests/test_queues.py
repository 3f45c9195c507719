"""Queues with limits on one host: concurrency, worker_concurrency, priority, rate limits, and slots freed by an
instance that waits (the multi-process checks are in test_queue_hosts.py)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from wfe import (
    ExecutionResult,
    HostError,
    PointerStatus,
    StepExecutionContext,
    WorkflowBuilder,
    WorkflowHost,
    WorkflowStatus,
)
from wfe_core.testing import ManualClock

Interval = tuple[float, float]


def overlap(intervals: list[Interval]) -> int:
    """The most intervals open at one moment."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    most = open_now = 0
    for _, change in edges:
        open_now += change
        most = max(most, open_now)
    return most


def timed(definition_id: str, log: list[Interval], seconds: float = 0.05):  # type: ignore[no-untyped-def]
    async def work(ctx: StepExecutionContext) -> ExecutionResult:
        start = time.monotonic()
        await asyncio.sleep(seconds)
        log.append((start, time.monotonic()))
        return ExecutionResult.next()

    return WorkflowBuilder().then_fn(work, name="work").build(definition_id, 1)


async def finish_all(host, ids: list[str]) -> None:  # type: ignore[no-untyped-def]
    for workflow_id in ids:
        done = await host.wait_for_workflow(workflow_id, timeout=60)
        assert done.status is WorkflowStatus.COMPLETE


async def until_a_pointer_is(host: WorkflowHost, workflow_id: str, status: PointerStatus) -> None:
    """Until one of the instance's pointers has ``status``, polled for up to 10 s; the test's next assertions
    say what went wrong if it never does."""
    for _ in range(200):
        instance = await host.get_workflow(workflow_id)
        if any(p.status is status for p in instance.execution_pointers):
            break
        await asyncio.sleep(0.05)


async def test_concurrency_bounds_the_instances_running_at_once(make_host):
    log: list[Interval] = []
    host = await make_host(timed("q-conc", log), configure=lambda b: b.add_queue("two", concurrency=2))
    ids = [await host.start_workflow("q-conc", 1, queue="two") for _ in range(10)]
    await finish_all(host, ids)
    assert len(log) == 10
    assert overlap(log) <= 2


async def test_worker_concurrency_bounds_this_host(make_host):
    log: list[Interval] = []
    host = await make_host(
        timed("q-worker", log), configure=lambda b: b.add_queue("one", worker_concurrency=1)
    )
    ids = [await host.start_workflow("q-worker", 1, queue="one") for _ in range(6)]
    await finish_all(host, ids)
    assert len(log) == 6
    assert overlap(log) == 1


async def test_priority_serves_lower_numbers_first(make_host):
    gate = asyncio.Event()
    order: list[int] = []

    async def work(ctx: StepExecutionContext) -> ExecutionResult:
        if ctx.workflow.priority == 0:
            await gate.wait()  # the blocker holds the only slot until the others wait
        else:
            order.append(ctx.workflow.priority)
        return ExecutionResult.next()

    definition = WorkflowBuilder().then_fn(work, name="work").build("q-prio", 1)
    host = await make_host(definition, configure=lambda b: b.add_queue("p", concurrency=1, priority=True))
    blocker = await host.start_workflow("q-prio", 1, queue="p")
    ids = [await host.start_workflow("q-prio", 1, queue="p", priority=p) for p in (5, 1, 3, 4, 2)]
    for _ in range(200):
        state = await host.persistence.queue_state("p", host.clock.now())
        if len(state.waiting) == 5:
            break
        await asyncio.sleep(0.05)
    assert state.held == [blocker]
    gate.set()
    await finish_all(host, [blocker, *ids])
    assert order == [1, 2, 3, 4, 5]


async def test_an_instance_waiting_for_an_event_holds_no_slot(make_host):
    ran: list[str] = []

    def mark(name: str):  # type: ignore[no-untyped-def]
        def step(ctx: StepExecutionContext) -> ExecutionResult:
            ran.append(name)
            return ExecutionResult.next()

        return step

    waiting = (
        WorkflowBuilder()
        .then_fn(mark("before"), name="before")
        .wait_for("go", "key-1")
        .then_fn(mark("after"), name="after")
        .build("q-wait", 1)
    )
    quick = WorkflowBuilder().then_fn(mark("quick"), name="quick").build("q-quick", 1)
    sleeper = (
        WorkflowBuilder()
        .then_fn(mark("nap"), name="nap")
        .delay(timedelta(seconds=3))
        .then_fn(mark("woke"), name="woke")
        .build("q-sleep", 1)
    )
    host = await make_host(waiting, quick, sleeper, configure=lambda b: b.add_queue("one", concurrency=1))
    first = await host.start_workflow("q-wait", 1, queue="one")
    await until_a_pointer_is(host, first, PointerStatus.WAITING_FOR_EVENT)
    second = await host.start_workflow("q-sleep", 1, queue="one")
    await until_a_pointer_is(host, second, PointerStatus.SLEEPING)
    third = await host.start_workflow("q-quick", 1, queue="one")
    done = await host.wait_for_workflow(third, timeout=30)  # runs while the others wait and sleep
    assert done.status is WorkflowStatus.COMPLETE
    assert "woke" not in ran and "after" not in ran
    await host.publish_event("go", "key-1")
    await finish_all(host, [first, second])
    # a run frees its slot just after it stores the instance's end
    for _ in range(200):
        state = await host.persistence.queue_state("one", host.clock.now())
        if not state.held:
            break
        await asyncio.sleep(0.05)
    assert state.held == []


async def test_rate_limit_bounds_the_starts_in_each_period(make_host):
    # A ManualClock decides the windows: the limit is checked exactly, without timing the steps.
    clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    runs: list[datetime] = []

    def work(ctx: StepExecutionContext) -> ExecutionResult:
        runs.append(clock.now())
        return ExecutionResult.next()

    definition = WorkflowBuilder().then_fn(work, name="work").build("q-rate", 1)
    host = await make_host(
        definition, clock=clock, configure=lambda b: b.add_queue("r", rate_limit=(4, timedelta(seconds=1)))
    )
    ids = [await host.start_workflow("q-rate", 1, queue="r") for _ in range(10)]

    async def settled(ran: int, waiting: int) -> None:
        for _ in range(400):
            state = await host.persistence.queue_state("r", clock.now())
            if len(runs) >= ran and len(state.waiting) == waiting:
                break
            await asyncio.sleep(0.025)
        assert (len(runs), len(state.waiting)) == (ran, waiting)

    await settled(4, 6)
    await clock.advance(timedelta(milliseconds=999))
    await settled(4, 6)  # the window has not moved past the first starts yet
    await clock.advance(timedelta(milliseconds=1))
    await settled(8, 2)
    await clock.advance(timedelta(seconds=1))
    await settled(10, 0)
    await finish_all(host, ids)
    assert sorted(set(runs)) == [runs[0], runs[0] + timedelta(seconds=1), runs[0] + timedelta(seconds=2)]


async def test_an_unknown_queue_is_refused_naming_add_queue(make_host):
    host = await make_host(timed("q-unknown", []))
    with pytest.raises(HostError, match=r"add_queue\('nope'"):
        await host.start_workflow("q-unknown", 1, queue="nope")


async def test_a_fork_keeps_the_queue_and_priority(make_host):
    host = await make_host(timed("q-fork", []), configure=lambda b: b.add_queue("f", concurrency=1))
    original = await host.start_workflow("q-fork", 1, queue="f", priority=7)
    await finish_all(host, [original])
    fork = await host.fork_workflow(original, "work")
    forked = await host.wait_for_workflow(fork, timeout=30)
    assert (forked.queue, forked.priority) == ("f", 7)


async def test_a_slot_is_renewed_while_its_run_outlasts_the_lease(make_host, caplog):
    log: list[Interval] = []
    host = await make_host(
        timed("q-long", log, seconds=1.5),
        lock_ttl=timedelta(seconds=0.6),
        configure=lambda b: b.add_queue("one", concurrency=1),
    )
    ids = [await host.start_workflow("q-long", 1, queue="one") for _ in range(2)]
    await finish_all(host, ids)
    assert overlap(log) == 1
    assert "lapsed" not in caplog.text


def test_add_queue_refuses_bad_limits_naming_the_form():
    from wfe import WorkflowHostBuilder

    with pytest.raises(ValueError, match="concurrency must be a whole number of at least 1"):
        WorkflowHostBuilder().add_queue("q", concurrency=0)
    with pytest.raises(ValueError, match=r"rate_limit must be \(count >= 1, a positive timedelta\)"):
        WorkflowHostBuilder().add_queue("q", rate_limit=(10, 1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="declared twice"):
        WorkflowHostBuilder().add_queue("q").add_queue("q")
