"""The lifecycle hub conformance suite against MemoryLifecycleHub, plus channel isolation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest

from wfe_core.models import LifecycleEvent, WorkflowStarted, new_id
from wfe_core.providers.memory import MemoryLifecycleHub
from wfe_core.testing import LifecycleHubSuite


class TestMemoryLifecycleHub(LifecycleHubSuite):
    @pytest.fixture
    async def hub_factory(self) -> AsyncIterator[Callable[[], MemoryLifecycleHub]]:
        channel = f"test-{new_id()}"
        hubs: list[MemoryLifecycleHub] = []

        def make() -> MemoryLifecycleHub:
            hubs.append(MemoryLifecycleHub.from_url("memory://", channel=channel))
            return hubs[-1]

        yield make
        for hub in hubs:
            await hub.stop()


async def test_hubs_on_other_channels_do_not_see_the_event() -> None:
    publisher = MemoryLifecycleHub(channel=f"a-{new_id()}")
    outsider = MemoryLifecycleHub(channel=f"b-{new_id()}")
    received: list[LifecycleEvent] = []
    outsider.subscribe(received.append)
    await publisher.start()
    await outsider.start()
    try:
        event = WorkflowStarted(workflow_id=new_id(), definition_id="d", version=1, time=datetime.now(UTC))
        await publisher.publish(event)
        await asyncio.sleep(0.05)
        assert received == []
    finally:
        await publisher.stop()
        await outsider.stop()


async def test_stop_delivers_what_already_arrived() -> None:
    hub = MemoryLifecycleHub(channel=f"c-{new_id()}")
    received: list[LifecycleEvent] = []
    hub.subscribe(received.append)
    await hub.start()
    for _ in range(3):
        await hub.publish(
            WorkflowStarted(workflow_id=new_id(), definition_id="d", version=1, time=datetime.now(UTC))
        )
    await hub.stop()
    assert len(received) == 3
