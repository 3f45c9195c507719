"""Where a published event is delivered: a started host with a free event slot delivers the events it publishes
itself, without the queue; with ``publish_locally=False``, every event slot busy, a host not started or an event
due later, the event goes through the queue. A delivery that fails here is retried through the queue, and an
event stored by a host that died before delivering it is delivered by the poller (the crash-point sweep kills
real processes in that window: test_crash_points.py)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from wfe import WorkflowHostBuilder, WorkflowStatus

from .test_events import Order, wait_until_waiting, waiting_definition
from .test_recovery import _CountingQueue, _no_poller


def _queued_events(host) -> _CountingQueue:
    """The ids of the events that go through the host's queue from now on."""
    return _CountingQueue(host, "event")


async def _waiting(host, order_id: str) -> str:
    wid = await host.start_workflow("approve", 1, Order(order_id=order_id))
    await wait_until_waiting(host, wid)
    return wid


async def _approved(host, wid: str) -> list[object]:
    done = await host.wait_for_workflow(wid, timeout=10)
    assert done.status is WorkflowStatus.COMPLETE
    return list(done.data.approvals)


async def test_a_started_host_delivers_the_events_it_publishes_without_the_queue(make_host):
    host = await make_host(waiting_definition())
    _no_poller(host)
    queue = _queued_events(host)
    first, second = await _waiting(host, "o-1"), await _waiting(host, "o-2")
    await host.publish_event("approval", "o-1", "yes")
    await host.publish_event("approval", "o-2", "also")
    assert await _approved(host, first) == ["yes"]
    assert await _approved(host, second) == ["also"]
    assert queue.queued == []
    await _all_processed(host)


async def _all_processed(host) -> None:
    """Every event stored is marked processed (just after its delivery), within a few seconds."""
    for _ in range(100):
        if not await host.persistence.get_runnable_events(host.clock.now() + timedelta(days=1)):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("an event was left unprocessed")


async def test_with_publish_locally_off_every_event_goes_through_the_queue(make_host):
    host = await make_host(waiting_definition(), publish_locally=False)
    _no_poller(host)
    queue = _queued_events(host)
    wid = await _waiting(host, "o-1")
    event_id = await host.publish_event("approval", "o-1", "yes")
    assert await _approved(host, wid) == ["yes"]
    assert queue.queued == [event_id]


async def test_with_every_event_slot_busy_the_event_goes_through_the_queue(make_host):
    host = await make_host(waiting_definition(), max_concurrent_events=1)
    _no_poller(host)
    queue = _queued_events(host)
    wid = await _waiting(host, "o-1")
    slots = host._consumers.event_slots
    assert slots.try_take()  # the one event slot is busy (another delivery in progress)
    event_id = await host.publish_event("approval", "o-1", "yes")
    assert queue.queued == [event_id]
    await asyncio.sleep(0.2)
    assert (await host.get_workflow(wid)).status is WorkflowStatus.RUNNABLE
    assert not (await host.get_workflow(wid)).data.approvals, "nothing delivered while every slot is busy"
    slots.give()  # the queue consumer takes the slot and delivers
    assert await _approved(host, wid) == ["yes"]


async def test_an_event_due_later_is_queued_and_delivered_when_its_time_comes(make_host):
    host = await make_host(waiting_definition())
    _no_poller(host)
    queue = _queued_events(host)
    wid = await _waiting(host, "o-1")
    soon = host.clock.now() + timedelta(milliseconds=300)
    event_id = await host.publish_event("approval", "o-1", "later", effective_date=soon)
    assert queue.queued == [event_id]
    assert await _approved(host, wid) == ["later"]


async def test_a_host_not_started_queues_the_events_it_publishes():
    host = WorkflowHostBuilder().build()
    host.register_workflow(waiting_definition())
    queue = _queued_events(host)
    await host.start()
    wid = await _waiting(host, "o-1")
    await host.stop()
    event_id = await host.publish_event("approval", "o-1", "yes")  # stored and queued by a stopped host
    assert queue.queued == [event_id]
    await host.start()  # its consumer takes the event off the queue
    try:
        assert await _approved(host, wid) == ["yes"]
    finally:
        await host.stop()


async def test_a_delivery_that_fails_here_is_retried_through_the_queue(make_host):
    host = await make_host(waiting_definition())
    _no_poller(host)
    queue = _queued_events(host)
    wid = await _waiting(host, "o-1")
    get_subscriptions = host.persistence.get_subscriptions
    failures: list[str] = []

    async def failing_once(*args, **kwargs):
        if not failures:
            failures.append("refused")
            raise ConnectionError("the store went away for a moment")
        return await get_subscriptions(*args, **kwargs)

    host.persistence.get_subscriptions = failing_once
    event_id = await host.publish_event("approval", "o-1", "yes")
    assert await _approved(host, wid) == ["yes"]
    assert failures == ["refused"]
    assert queue.queued == [event_id], "queued once, by the retry"


async def test_an_event_a_host_stored_but_never_delivered_is_delivered_by_the_poller(make_host):
    host = await make_host(waiting_definition(), poll_interval=timedelta(milliseconds=200))
    wid = await _waiting(host, "o-1")
    stored_only: list[str] = []

    def died_before_delivering(event) -> bool:
        stored_only.append(event.id)  # stored, neither delivered nor queued: as if the host had died here
        return True

    host._consumers.deliver_published = died_before_delivering
    event_id = await host.publish_event("approval", "o-1", "yes")
    assert stored_only == [event_id]
    assert await _approved(host, wid) == ["yes"]
