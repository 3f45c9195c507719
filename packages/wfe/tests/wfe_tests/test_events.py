"""wait_for and publish_event: keys, effective dates, events before subscriptions, loops, many instances."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from pydantic import BaseModel

from wfe import PointerStatus, StepExecutionContext, WorkflowBuilder, WorkflowHostBuilder, WorkflowStatus
from wfe_core.models import Event, EventSubscription, QueueType
from wfe_tests.conftest import STORE_PARAMS, configure_store


class Order(BaseModel):
    order_id: str = ""
    approvals: list[object] = []
    rounds: int = 0


def waiting_definition(version: int = 1):
    return (
        WorkflowBuilder(Order)
        .wait_for("approval", lambda d, ctx: d.order_id)
        .output("approvals", lambda step, data: [*data.approvals, step.event_data])
        .build("approve", version)
    )


async def wait_until_waiting(host, wid: str) -> None:
    for _ in range(200):
        instance = await host.get_workflow(wid)
        if any(p.status is PointerStatus.WAITING_FOR_EVENT for p in instance.execution_pointers):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("workflow never waited for its event")


async def test_event_resumes_the_waiting_workflow_with_its_data(make_host):
    host = await make_host(waiting_definition())
    wid = await host.start_workflow("approve", 1, Order(order_id="o-1"))
    await wait_until_waiting(host, wid)
    await host.publish_event("approval", "o-1", {"ok": True})
    instance = await host.wait_for_workflow(wid, timeout=10)
    assert instance.status is WorkflowStatus.COMPLETE
    assert instance.data.approvals == [{"ok": True}]


async def test_event_published_right_after_start_is_not_lost(make_host):
    host = await make_host(waiting_definition())
    wid = await host.start_workflow("approve", 1, Order(order_id="o-2"))
    await host.publish_event("approval", "o-2", "early")
    instance = await host.wait_for_workflow(wid, timeout=10)
    assert instance.data.approvals == ["early"]


async def test_event_with_other_key_does_not_resume(make_host):
    host = await make_host(waiting_definition())
    wid = await host.start_workflow("approve", 1, Order(order_id="mine"))
    await wait_until_waiting(host, wid)
    await host.publish_event("approval", "theirs", 1)
    await asyncio.sleep(0.3)
    assert (await host.get_workflow(wid)).status is WorkflowStatus.RUNNABLE


async def test_one_event_wakes_every_waiting_instance(make_host):
    host = await make_host(waiting_definition())
    ids = [await host.start_workflow("approve", 1, Order(order_id="shared")) for _ in range(3)]
    for wid in ids:
        await wait_until_waiting(host, wid)
    await host.publish_event("approval", "shared", "all")
    for wid in ids:
        assert (await host.wait_for_workflow(wid, timeout=10)).data.approvals == ["all"]


async def test_event_older_than_the_subscription_effective_date_is_ignored(make_host):
    definition = (
        WorkflowBuilder(Order)
        .wait_for(
            "tick", "k", effective_date=lambda d, ctx: ctx.workflow.create_time + timedelta(milliseconds=300)
        )
        .output("approvals", lambda step: [step.event_data])
        .build("effective", 1)
    )
    host = await make_host(definition)
    wid = await host.start_workflow("effective", 1, Order())
    await wait_until_waiting(host, wid)
    instance = await host.get_workflow(wid)
    await host.publish_event(
        "tick", "k", "too-early", effective_date=instance.create_time + timedelta(milliseconds=100)
    )
    await asyncio.sleep(0.3)
    assert (await host.get_workflow(wid)).status is WorkflowStatus.RUNNABLE
    await host.publish_event(
        "tick", "k", "in-window", effective_date=instance.create_time + timedelta(milliseconds=400)
    )
    done = await host.wait_for_workflow(wid, timeout=10)
    assert done.data.approvals == ["in-window"]


async def test_event_effective_in_the_future_is_delivered_when_its_time_comes(make_host):
    host = await make_host(waiting_definition())
    wid = await host.start_workflow("approve", 1, Order(order_id="later"))
    await wait_until_waiting(host, wid)
    now = host.clock.now()
    await host.publish_event("approval", "later", "soon", effective_date=now + timedelta(milliseconds=400))
    await asyncio.sleep(0.2)
    assert (await host.get_workflow(wid)).status is WorkflowStatus.RUNNABLE
    assert (await host.wait_for_workflow(wid, timeout=10)).data.approvals == ["soon"]


async def test_wait_in_a_loop_consumes_each_event_once(make_host):
    def bump(ctx: StepExecutionContext) -> None:
        ctx.data.rounds += 1

    definition = (
        WorkflowBuilder(Order)
        .while_do(
            lambda d: d.rounds < 3,
            lambda b: (
                b.wait_for("ping", "loop")
                .output("approvals", lambda step, data: [*data.approvals, step.event_data])
                .then_fn(bump)
            ),
        )
        .build("loop-wait", 1)
    )
    host = await make_host(definition)
    wid = await host.start_workflow("loop-wait", 1, Order())
    await wait_until_waiting(host, wid)
    await host.publish_event("ping", "loop", 1)
    await asyncio.sleep(0.3)
    instance = await host.get_workflow(wid)
    assert instance.data.approvals == [1], "one event must not satisfy several iterations"
    await host.publish_event("ping", "loop", 2)
    await host.publish_event("ping", "loop", 3)
    done = await host.wait_for_workflow(wid, timeout=10)
    assert done.data.approvals == [1, 2, 3]


async def test_events_published_in_rapid_succession_are_each_delivered_oldest_first(make_host):
    definition = (
        WorkflowBuilder(Order)
        .wait_for("n", "k")
        .output("approvals", lambda step, data: [*data.approvals, step.event_data])
        .wait_for("n", "k")
        .output("approvals", lambda step, data: [*data.approvals, step.event_data])
        .build("rapid", 1)
    )
    host = await make_host(definition)
    wid = await host.start_workflow("rapid", 1, Order())
    await host.publish_event("n", "k", "first")
    await host.publish_event("n", "k", "second")
    done = await host.wait_for_workflow(wid, timeout=10)
    assert done.data.approvals == ["first", "second"]


async def test_event_published_and_processed_while_the_subscription_is_written_is_not_lost(make_host):
    """The pass's write carries the time its step ended; an event published after that, and processed by the
    event consumer before the write commits (no subscription to see yet), is still delivered."""
    host = await make_host(waiting_definition())
    store = host.persistence
    write = store.persist_workflow
    published: list[str] = []

    async def publish_first(instance, **kwargs):
        if kwargs.get("subscriptions") and not published:
            await asyncio.sleep(0.01)  # the event's time is after the end of the step that subscribes
            event_id = await host.publish_event("approval", "o-late", "late")
            published.append(event_id)
            for _ in range(500):
                if (await store.get_event(event_id)).is_processed:
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the event was never processed")
        return await write(instance, **kwargs)

    store.persist_workflow = publish_first
    wid = await host.start_workflow("approve", 1, Order(order_id="o-late"))
    instance = await host.wait_for_workflow(wid, timeout=10)
    assert published
    assert instance.data.approvals == ["late"]


@pytest.mark.parametrize("store", STORE_PARAMS)
async def test_a_delivery_that_wakes_nothing_queues_an_instance_that_is_due(store, tmp_path):
    # A delivery holds the instance's lease while it writes; a run asked for meanwhile (by the queue, a timer)
    # finds the lease taken and gives up. So when the delivery woke nothing (its wait was closed already) but
    # the instance is due all the same, it queues the instance again rather than leave it to the poller.
    builder = WorkflowHostBuilder()
    cleanups = configure_store(builder, store, tmp_path)
    host = builder.build()  # not started: nothing takes from the queue but this test
    host.register_workflow(waiting_definition())
    try:
        await host.persistence.ensure_store_exists()  # (start() would do it)
        wid = await host.start_workflow("approve", 1, Order(order_id="o-1"))  # runnable, due now, queued
        item = await host.queue.dequeue(QueueType.WORKFLOW, timeout=1)
        assert item is not None and item.item_id == wid
        await host.queue.ack(item)  # the run this stands for gave up: the lease was taken
        event = Event(event_name="approval", event_key="o-1", event_time=host.clock.now())
        await host.persistence.create_event(event)
        closed = EventSubscription(
            workflow_id=wid,
            step_id=0,
            execution_pointer_id="a-wait-closed-before",
            event_name="approval",
            event_key="o-1",
            subscribe_as_of=host.clock.now(),
        )
        assert await host._runner.delivery.deliver(closed, event) is True
        again = await host.queue.dequeue(QueueType.WORKFLOW, timeout=1)
        assert again is not None and again.item_id == wid
        assert (await host.get_workflow(wid)).status is WorkflowStatus.RUNNABLE
    finally:
        await host.stop()
        for cleanup in cleanups:
            await cleanup()
