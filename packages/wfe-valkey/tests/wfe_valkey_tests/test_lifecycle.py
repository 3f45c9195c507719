"""ValkeyLifecycleHub: events reach every hub on the server, in order, and survive a dropped connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from wfe_core.errors import ProviderError
from wfe_core.models import LifecycleEvent, StepCompleted, WorkflowCompleted, WorkflowStarted
from wfe_core.testing import LifecycleHubSuite
from wfe_valkey import ValkeyLifecycleHub
from wfe_valkey_tests.server import kill_connections

pytestmark = pytest.mark.valkey


class TestValkeyLifecycleHubConformance(LifecycleHubSuite):
    @pytest.fixture
    async def hub_factory(
        self, valkey_url: str, prefix: str
    ) -> AsyncIterator[Callable[[], ValkeyLifecycleHub]]:
        hubs: list[ValkeyLifecycleHub] = []

        def make() -> ValkeyLifecycleHub:
            # Each hub on a client of its own, as on separate hosts.
            hubs.append(
                ValkeyLifecycleHub.from_url(f"{valkey_url}?client_name={prefix}-{len(hubs)}", prefix=prefix)
            )
            return hubs[-1]

        yield make
        for hub in hubs:
            await hub.stop()


def started(workflow_id: str = "wf-1") -> WorkflowStarted:
    return WorkflowStarted(workflow_id=workflow_id, definition_id="def", version=1, time=datetime.now(UTC))


class Received:
    """A callback collecting events, with a wait for a given count."""

    def __init__(self) -> None:
        self.events: list[LifecycleEvent] = []
        self._changed = asyncio.Event()

    def __call__(self, event: LifecycleEvent) -> None:
        self.events.append(event)
        self._changed.set()

    async def wait_for(self, count: int, within: float = 5.0) -> list[LifecycleEvent]:
        async with asyncio.timeout(within):
            while len(self.events) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.events


@pytest.fixture
async def hubs(valkey_url: str, prefix: str) -> AsyncIterator[tuple[ValkeyLifecycleHub, ValkeyLifecycleHub]]:
    """Two hubs on separate clients, as on two hosts."""
    first = ValkeyLifecycleHub.from_url(f"{valkey_url}?client_name={prefix}-a", prefix=prefix)
    second = ValkeyLifecycleHub.from_url(f"{valkey_url}?client_name={prefix}-b", prefix=prefix)
    await first.start()
    await second.start()
    yield first, second
    await first.stop()
    await second.stop()


async def test_an_event_published_on_one_hub_reaches_callbacks_on_both(
    hubs: tuple[ValkeyLifecycleHub, ValkeyLifecycleHub],
) -> None:
    a, b = hubs
    on_a, on_b = Received(), Received()
    a.subscribe(on_a)
    b.subscribe(on_b)
    event = started()
    await a.publish(event)
    assert await on_b.wait_for(1) == [event]
    assert await on_a.wait_for(1) == [event]
    await asyncio.sleep(0.1)
    assert len(on_a.events) == len(on_b.events) == 1


async def test_events_arrive_in_publish_order_with_their_kind(
    hubs: tuple[ValkeyLifecycleHub, ValkeyLifecycleHub],
) -> None:
    a, b = hubs
    received = Received()
    b.subscribe(received)
    now = datetime.now(UTC)
    sent: list[LifecycleEvent] = [
        started(),
        StepCompleted(
            workflow_id="wf-1", definition_id="def", version=1, time=now, step_id=0, pointer_id="p0"
        ),
        WorkflowCompleted(workflow_id="wf-1", definition_id="def", version=1, time=now, reference="order-7"),
    ]
    for event in sent:
        await a.publish(event)
    assert await received.wait_for(3) == sent
    assert [type(event) for event in received.events] == [WorkflowStarted, StepCompleted, WorkflowCompleted]


async def test_async_callbacks_are_awaited_and_a_failing_callback_does_not_stop_others(
    hubs: tuple[ValkeyLifecycleHub, ValkeyLifecycleHub],
) -> None:
    a, b = hubs
    seen_async: list[str] = []

    async def async_callback(event: LifecycleEvent) -> None:
        await asyncio.sleep(0)
        seen_async.append(event.workflow_id)

    def failing(event: LifecycleEvent) -> None:
        raise RuntimeError("callback bug")

    received = Received()
    b.subscribe(failing)
    b.subscribe(async_callback)
    b.subscribe(received)
    await a.publish(started("wf-1"))
    await a.publish(started("wf-2"))
    await received.wait_for(2)
    assert seen_async == ["wf-1", "wf-2"]


async def test_hubs_with_another_prefix_do_not_hear_each_other(valkey_url: str, prefix: str) -> None:
    mine = ValkeyLifecycleHub.from_url(valkey_url, prefix=prefix)
    other = ValkeyLifecycleHub.from_url(valkey_url, prefix=f"{prefix}:other")
    received = Received()
    other.subscribe(received)
    await mine.start()
    await other.start()
    try:
        await mine.publish(started())
        await asyncio.sleep(0.3)
        assert received.events == []
    finally:
        await mine.stop()
        await other.stop()


async def test_messages_that_are_not_events_are_ignored(
    hubs: tuple[ValkeyLifecycleHub, ValkeyLifecycleHub], admin: Redis
) -> None:
    a, b = hubs
    received = Received()
    b.subscribe(received)
    await admin.publish(b.channel, "not json")
    event = started()
    await a.publish(event)
    assert await received.wait_for(1) == [event]


async def test_the_subscriber_resubscribes_after_its_connection_dropped(
    hubs: tuple[ValkeyLifecycleHub, ValkeyLifecycleHub], admin: Redis, prefix: str
) -> None:
    a, b = hubs
    received = Received()
    b.subscribe(received)
    assert await kill_connections(admin, f"{prefix}-b") >= 1
    # Publish until the resubscribed hub hears one: events sent while it was away are missed by design.
    async with asyncio.timeout(10):
        while not received.events:
            await a.publish(started("after-drop"))
            await asyncio.sleep(0.1)
    assert received.events[0].workflow_id == "after-drop"


async def test_stop_ends_delivery_and_start_resumes_it(
    hubs: tuple[ValkeyLifecycleHub, ValkeyLifecycleHub],
) -> None:
    a, b = hubs
    received = Received()
    b.subscribe(received)
    await b.stop()
    await b.stop()
    await a.publish(started("while-stopped"))
    await b.start()
    await b.start()
    await a.publish(started("after-restart"))
    events = await received.wait_for(1)
    await asyncio.sleep(0.1)
    assert [event.workflow_id for event in events] == ["after-restart"]


async def test_start_raises_provider_error_when_the_server_stays_away(prefix: str) -> None:
    hub = ValkeyLifecycleHub.from_url("redis://127.0.0.1:1/0", prefix=prefix, retry_timeout=0.3)
    with pytest.raises(ProviderError, match="unreachable"):
        await hub.start()
    with pytest.raises(ProviderError, match="unreachable"):
        await hub.publish(started())
    await hub.stop()
