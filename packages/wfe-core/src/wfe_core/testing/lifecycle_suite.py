"""LifecycleHubSuite: the conformance tests every ``LifecycleHub`` runs against itself."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from wfe_core.models import LifecycleEvent, StepStarted, WorkflowCompleted, WorkflowStarted, new_id
from wfe_core.protocols import LifecycleHub


def started(workflow_id: str | None = None) -> WorkflowStarted:
    return WorkflowStarted(
        workflow_id=workflow_id or new_id(),
        definition_id="hub-suite",
        version=1,
        reference="ref-1",
        time=datetime.now(UTC),
    )


def step_started(workflow_id: str, step_id: int) -> StepStarted:
    return StepStarted(
        workflow_id=workflow_id,
        definition_id="hub-suite",
        version=1,
        time=datetime.now(UTC),
        step_id=step_id,
        pointer_id=new_id(),
        step_name=f"step {step_id}",
    )


class LifecycleHubSuite:
    """Conformance tests for a ``LifecycleHub``.

    Subclass it in a class whose name starts with ``Test`` and provide an async fixture ``hub_factory`` that
    yields a callable; each call returns a new, *not yet started* hub attached to a channel that only this
    test uses (hubs from one call of the fixture see each other, as hosts sharing a hub do). The suite starts
    the hubs; the fixture stops every hub it made afterwards. ``start`` must return once the hub receives.

    Example::

        class TestMyHub(LifecycleHubSuite):
            @pytest.fixture
            async def hub_factory(self):
                prefix, hubs = unique_prefix(), []

                def make():
                    hubs.append(MyHub(url, prefix=prefix))
                    return hubs[-1]

                yield make
                for hub in hubs:
                    await hub.stop()
    """

    pytestmark = pytest.mark.asyncio

    delivery_timeout: float = 5.0
    quiet_period: float = 0.3
    """How long the suite waits to conclude that no (further) event arrives."""

    async def started_hub(self, hub_factory: Callable[[], LifecycleHub]) -> LifecycleHub:
        hub = hub_factory()
        await hub.start()
        return hub

    async def eventually(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.delivery_timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.01)

    async def test_a_subscriber_receives_what_its_own_hub_publishes(
        self, hub_factory: Callable[[], LifecycleHub]
    ) -> None:
        hub = await self.started_hub(hub_factory)
        received: list[LifecycleEvent] = []
        hub.subscribe(received.append)
        event = started()
        await hub.publish(event)
        await self.eventually(lambda: len(received) == 1, "the event")
        assert received[0] == event
        assert isinstance(received[0], WorkflowStarted)

    async def test_another_hub_on_the_channel_receives_the_event(
        self, hub_factory: Callable[[], LifecycleHub]
    ) -> None:
        publisher = await self.started_hub(hub_factory)
        listener = await self.started_hub(hub_factory)
        received: list[LifecycleEvent] = []
        listener.subscribe(received.append)
        event = WorkflowCompleted(
            workflow_id=new_id(), definition_id="hub-suite", version=3, reference=None, time=datetime.now(UTC)
        )
        await publisher.publish(event)
        await self.eventually(lambda: len(received) == 1, "the event on the other hub")
        assert received[0] == event

    async def test_callbacks_registered_before_start_receive(
        self, hub_factory: Callable[[], LifecycleHub]
    ) -> None:
        hub = hub_factory()
        received: list[LifecycleEvent] = []
        hub.subscribe(received.append)
        await hub.start()
        await hub.publish(started())
        await self.eventually(lambda: len(received) == 1, "the event")

    async def test_every_callback_of_every_hub_gets_each_event_once(
        self, hub_factory: Callable[[], LifecycleHub]
    ) -> None:
        hubs = [await self.started_hub(hub_factory) for _ in range(2)]
        inboxes: list[list[str]] = [[] for _ in range(4)]

        def recorder(inbox: list[str]) -> Callable[[LifecycleEvent], None]:
            return lambda event: inbox.append(event.workflow_id)

        for n, inbox in enumerate(inboxes):
            hubs[n % 2].subscribe(recorder(inbox))
        workflow_ids = [new_id() for _ in range(3)]
        for workflow_id in workflow_ids:
            await hubs[0].publish(started(workflow_id))
        await self.eventually(lambda: all(len(inbox) >= 3 for inbox in inboxes), "every callback")
        await asyncio.sleep(self.quiet_period)
        for inbox in inboxes:
            assert inbox == workflow_ids

    async def test_events_of_one_instance_keep_their_order(
        self, hub_factory: Callable[[], LifecycleHub]
    ) -> None:
        publisher = await self.started_hub(hub_factory)
        listener = await self.started_hub(hub_factory)
        received: list[LifecycleEvent] = []
        listener.subscribe(received.append)
        first, second = new_id(), new_id()
        for step_id in range(25):
            await publisher.publish(step_started(first, step_id))
            await publisher.publish(step_started(second, step_id))
        await self.eventually(lambda: len(received) == 50, "fifty events")
        for workflow_id in (first, second):
            steps = [
                e.step_id for e in received if isinstance(e, StepStarted) and e.workflow_id == workflow_id
            ]
            assert steps == list(range(25))

    async def test_async_callbacks_are_awaited(self, hub_factory: Callable[[], LifecycleHub]) -> None:
        hub = await self.started_hub(hub_factory)
        finished: list[str] = []

        async def slow(event: LifecycleEvent) -> None:
            await asyncio.sleep(0.01)
            finished.append(event.workflow_id)

        hub.subscribe(slow)
        ids = [new_id() for _ in range(3)]
        for workflow_id in ids:
            await hub.publish(started(workflow_id))
        await self.eventually(lambda: len(finished) == 3, "the async callback")
        assert finished == ids

    async def test_a_raising_callback_does_not_block_others(
        self, hub_factory: Callable[[], LifecycleHub]
    ) -> None:
        hub = await self.started_hub(hub_factory)
        calls: list[str] = []
        received: list[str] = []

        def broken(event: LifecycleEvent) -> None:
            calls.append(event.workflow_id)
            raise RuntimeError("callback failed")

        async def broken_async(event: LifecycleEvent) -> None:
            raise RuntimeError("async callback failed")

        hub.subscribe(broken)
        hub.subscribe(broken_async)
        hub.subscribe(lambda event: received.append(event.workflow_id))
        ids = [new_id(), new_id()]
        for workflow_id in ids:
            await hub.publish(started(workflow_id))
        await self.eventually(lambda: len(received) == 2, "the healthy callback")
        assert received == ids
        assert calls == ids

    async def test_a_stopped_hub_receives_nothing(self, hub_factory: Callable[[], LifecycleHub]) -> None:
        publisher = await self.started_hub(hub_factory)
        listener = await self.started_hub(hub_factory)
        received: list[LifecycleEvent] = []
        listener.subscribe(received.append)
        await listener.stop()
        await publisher.publish(started())
        await asyncio.sleep(self.quiet_period)
        assert received == []

    async def test_start_and_stop_are_idempotent(self, hub_factory: Callable[[], LifecycleHub]) -> None:
        hub = hub_factory()
        received: list[LifecycleEvent] = []
        hub.subscribe(received.append)
        await hub.start()
        await hub.start()
        await hub.publish(started())
        await self.eventually(lambda: len(received) >= 1, "the event")
        await asyncio.sleep(self.quiet_period)
        assert len(received) == 1
        await hub.stop()
        await hub.stop()
