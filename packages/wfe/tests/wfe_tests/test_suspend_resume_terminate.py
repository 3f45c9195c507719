"""Suspend, resume and terminate, including while a step is running (requests take effect after the pass)."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest

from wfe import (
    ExecutionResult,
    StepBody,
    StepExecutionContext,
    WorkflowBuilder,
    WorkflowHost,
    WorkflowHostBuilder,
    WorkflowStatus,
)
from wfe_tests.conftest import STORE_PARAMS, store_location


class Blocking(StepBody):
    started: asyncio.Event | None = None
    cancelled: list[bool] = []

    async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        assert self.started is not None
        self.started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            self.cancelled.append(True)
            raise
        return ExecutionResult.next()


def definitions(gate: asyncio.Event, cancelled: list[bool]):
    long_running = (
        WorkflowBuilder()
        .then(lambda: Blocking(started=gate, cancelled=cancelled))
        .then_fn(lambda ctx: None)
        .build("long", 1)
    )
    waiting = WorkflowBuilder().wait_for("go", "k").then_fn(lambda ctx: None).build("waiting", 1)
    return long_running, waiting


async def test_suspend_and_resume_an_idle_workflow(make_host):
    long_running, waiting = definitions(asyncio.Event(), [])
    host = await make_host(long_running, waiting)
    wid = await host.start_workflow("waiting")
    await asyncio.sleep(0.2)
    assert await host.suspend_workflow(wid) is True
    assert (await host.get_workflow(wid)).status is WorkflowStatus.SUSPENDED
    assert await host.suspend_workflow(wid) is False
    await host.publish_event("go", "k")
    await asyncio.sleep(0.3)
    assert (await host.get_workflow(wid)).status is WorkflowStatus.SUSPENDED
    assert await host.resume_workflow(wid) is True
    assert await host.resume_workflow(wid) is False
    done = await host.wait_for_workflow(wid, timeout=10)
    assert done.status is WorkflowStatus.COMPLETE


async def test_a_resume_asked_twice_runs_the_workflow_without_waiting_for_the_poller(make_host):
    # The second resume holds the instance's lease for a moment, just as the queue hands the first one's run
    # to the host: that run finds the lease taken and gives up. The instance must be queued again when the
    # lease is let go, not left for the runnable poller, which here would not come round for an hour.
    long_running, waiting = definitions(asyncio.Event(), [])
    host = await make_host(long_running, waiting, poll_interval=timedelta(hours=1))
    wid = await host.start_workflow("waiting")
    await asyncio.sleep(0.2)
    assert await host.suspend_workflow(wid) is True
    await host.publish_event("go", "k")
    await asyncio.sleep(0.3)
    assert await host.resume_workflow(wid) is True
    assert await host.resume_workflow(wid) is False
    done = await host.wait_for_workflow(wid, timeout=5)
    assert done.status is WorkflowStatus.COMPLETE


def steered_definition():
    return (
        WorkflowBuilder()
        .then_fn(lambda ctx: None)
        .delay(lambda data, ctx: timedelta(milliseconds=50))
        .wait_for("go", lambda data, ctx: ctx.workflow.id)
        .then_fn(lambda ctx: None)
        .build("steered", 1)
    )


async def steer_at_random(hosts: list[WorkflowHost], ids: list[str], rnd: random.Random) -> None:
    """Suspends, resumes, terminates and events, in a random order, overlapping, each through a host picked at
    random; then every instance is sent its event and, once that is delivered (to a suspended instance, its
    wait only), resumed twice. Asserts that every instance then ends, with the runnable poller out of the
    picture (the hosts' poll interval is an hour)."""

    async def steer() -> None:
        host, wid, roll = rnd.choice(hosts), rnd.choice(ids), rnd.random()
        if roll < 0.4:
            await host.suspend_workflow(wid)
        elif roll < 0.8:
            await host.resume_workflow(wid)
        elif roll < 0.83:
            await host.terminate_workflow(wid)
        else:
            await host.publish_event("go", wid)

    for _ in range(40):
        await asyncio.gather(*(steer() for _ in range(rnd.randint(1, 4))))
        await asyncio.sleep(rnd.random() * 0.03)

    async def settle(wid: str) -> None:
        await rnd.choice(hosts).publish_event("go", wid)
        await asyncio.sleep(0.2)
        await rnd.choice(hosts).resume_workflow(wid)
        await rnd.choice(hosts).resume_workflow(wid)

    await asyncio.gather(*(settle(wid) for wid in ids))
    left = []
    for wid in ids:
        try:
            await hosts[0].wait_for_workflow(wid, timeout=5)
        except TimeoutError:
            left.append(await hosts[0].get_workflow(wid))
    assert not left, [(w.id, w.status, [p.status for p in w.open_pointers()]) for w in left]


@pytest.mark.parametrize("seed", [7, 8])
async def test_steering_in_any_order_leaves_no_instance_for_the_poller(make_host, seed):
    host = await make_host(steered_definition(), poll_interval=timedelta(hours=1))
    ids = [await host.start_workflow("steered") for _ in range(15)]
    await steer_at_random([host], ids, random.Random(seed))


@pytest.mark.parametrize("store", [s for s in STORE_PARAMS if s != "memory"])  # (hosts share the store)
async def test_steering_through_two_hosts_in_any_order_leaves_no_instance_for_the_poller(store, tmp_path):
    # What one host does under an instance's lease (a status change, a delivery) turns away the other's run of
    # it just as much as its own.
    hosts: list[WorkflowHost] = []
    url, options, cleanups = store_location(store, tmp_path)
    assert url is not None
    try:
        for _ in range(2):
            builder = WorkflowHostBuilder().use_persistence(url, **options)
            host = builder.with_options(poll_interval=timedelta(hours=1)).build()
            host.register_workflow(steered_definition())
            await host.start()
            hosts.append(host)
        ids = [await hosts[i % 2].start_workflow("steered") for i in range(15)]
        await steer_at_random(hosts, ids, random.Random(9))
    finally:
        for host in hosts:
            await host.stop()
        for cleanup in cleanups:
            await cleanup()


async def test_terminate_a_running_step_cancels_it_and_terminates(make_host):
    gate, cancelled = asyncio.Event(), []
    long_running, waiting = definitions(gate, cancelled)
    host = await make_host(long_running, waiting)
    wid = await host.start_workflow("long")
    await asyncio.wait_for(gate.wait(), 5)
    assert await host.terminate_workflow(wid) is True
    done = await host.wait_for_workflow(wid, timeout=5)
    assert done.status is WorkflowStatus.TERMINATED
    assert done.complete_time is not None
    assert cancelled == [True]
    assert await host.terminate_workflow(wid) is False


async def test_suspend_during_a_pass_takes_effect_when_the_pass_ends(make_host):
    release = asyncio.Event()

    async def slow(ctx: StepExecutionContext) -> None:
        await release.wait()

    definition = WorkflowBuilder().then_fn(slow).then_fn(lambda ctx: None).build("suspend-mid", 1)
    host = await make_host(definition)
    wid = await host.start_workflow("suspend-mid")
    await asyncio.sleep(0.2)
    assert await host.suspend_workflow(wid) is True
    release.set()
    suspended = await host.wait_for_workflow(wid, timeout=5, statuses=[WorkflowStatus.SUSPENDED])
    finished_first = [p for p in suspended.execution_pointers if p.step_id == 0]
    assert finished_first[0].end_time is not None, "the running step completes; the workflow stops after it"
    assert await host.resume_workflow(wid)
    assert (await host.wait_for_workflow(wid, timeout=5)).status is WorkflowStatus.COMPLETE


async def test_terminate_a_completed_workflow_returns_false(make_host):
    definition = WorkflowBuilder().then_fn(lambda ctx: None).build("quick", 1)
    host = await make_host(definition)
    wid = await host.start_workflow("quick")
    await host.wait_for_workflow(wid, timeout=5)
    assert await host.terminate_workflow(wid) is False
    assert await host.suspend_workflow(wid) is False


async def test_a_step_that_swallows_the_terminate_still_ends_terminated(make_host):
    """The terminate cancels the run's task while its pass runs; a step that catches the cancellation and
    returns ends the pass normally, and the terminate is applied after it, with no cancellation left over to
    hit the run's next await."""
    started = asyncio.Event()
    after: list[str] = []

    async def stubborn(ctx: StepExecutionContext) -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            await asyncio.sleep(0.05)  # the run's task is not cancelling any more
            after.append("cleaned up")

    definition = WorkflowBuilder().then_fn(stubborn).then_fn(lambda ctx: None).build("stubborn", 1)
    host = await make_host(definition)
    wid = await host.start_workflow("stubborn")
    await asyncio.wait_for(started.wait(), 5)
    assert await host.terminate_workflow(wid) is True
    done = await host.wait_for_workflow(wid, timeout=5)
    assert done.status is WorkflowStatus.TERMINATED
    assert after == ["cleaned up"]


async def test_stopping_the_host_during_a_terminated_pass_leaves_it_for_the_next_host(make_host):
    gate, cancelled = asyncio.Event(), []
    long_running, _ = definitions(gate, cancelled)
    host = await make_host(long_running, stop_timeout=timedelta(milliseconds=100))
    wid = await host.start_workflow("long")
    await asyncio.wait_for(gate.wait(), 5)
    await asyncio.wait_for(asyncio.gather(host.terminate_workflow(wid), host.stop()), 5)
    assert cancelled == [True]


async def test_terminating_a_parent_terminates_its_running_children_recursively(make_host):
    grandchild = WorkflowBuilder().wait_for("never", "k").build("grandchild", 1)
    child = WorkflowBuilder().sub_workflow("grandchild").build("child", 1)
    parent = WorkflowBuilder().sub_workflow("child").then_fn(lambda ctx: None).build("parent", 1)
    host = await make_host(parent, child, grandchild)
    wid = await host.start_workflow("parent")

    async def started(definition_id: str) -> str:
        for _ in range(200):
            found = await host.persistence.list_workflows(definition_id=definition_id)
            if found and found[0].status is WorkflowStatus.RUNNABLE:
                return found[0].id
            await asyncio.sleep(0.02)
        raise AssertionError(f"{definition_id} never started")

    child_id = await started("child")
    grandchild_id = await started("grandchild")
    # the grandchild waits: its parent's wait for it is stored before the terminate
    await host.wait_for_workflow(grandchild_id, timeout=5, statuses=[WorkflowStatus.RUNNABLE])

    assert await host.terminate_workflow(wid)

    for workflow_id in (wid, child_id, grandchild_id):
        done = await host.wait_for_workflow(workflow_id, timeout=5)
        assert done.status is WorkflowStatus.TERMINATED, workflow_id


async def test_suspending_a_parent_leaves_its_children_running(make_host):
    child = WorkflowBuilder().wait_for("go", "child").build("child", 1)
    parent = WorkflowBuilder().sub_workflow("child").build("parent", 1)
    host = await make_host(parent, child)
    wid = await host.start_workflow("parent")
    for _ in range(200):
        children = await host.persistence.list_workflows(definition_id="child")
        if children:
            break
        await asyncio.sleep(0.02)
    assert await host.suspend_workflow(wid)
    await host.publish_event("go", "child")
    assert (await host.wait_for_workflow(children[0].id, timeout=5)).status is WorkflowStatus.COMPLETE
    assert (await host.get_workflow(wid)).status is WorkflowStatus.SUSPENDED
    assert await host.resume_workflow(wid)
    assert (await host.wait_for_workflow(wid, timeout=5)).status is WorkflowStatus.COMPLETE
