"""Lifecycle events built only for the kinds someone takes: ``on_lifecycle_event(..., kinds=...)`` and the
in-memory hub's ``wanted_kinds`` (``LifecycleInterest``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from wfe import (
    ConfigurationError,
    StepCompleted,
    StepStarted,
    WorkflowBuilder,
    WorkflowCompleted,
    WorkflowHost,
    WorkflowHostBuilder,
    WorkflowStarted,
)
from wfe_core.models import LIFECYCLE_KINDS
from wfe_core.protocols import LifecycleInterest
from wfe_core.providers.memory import MemoryLifecycleHub


def two_steps() -> Any:
    return WorkflowBuilder().then_fn(lambda ctx: None).then_fn(lambda ctx: None).build("kinds", 1)


@pytest.fixture
async def hosts() -> AsyncIterator[Any]:
    """``await make(channel)``: a started in-memory host on the hub channel ``channel``; all stopped after."""
    made: list[WorkflowHost] = []

    async def make(channel: str) -> WorkflowHost:
        host = WorkflowHostBuilder().use_lifecycle_hub(MemoryLifecycleHub(channel=channel)).build()
        host.register_workflow(two_steps())
        made.append(host)
        await host.start()
        return host

    yield make
    for host in made:
        await host.stop()


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many events of each kind the engine built (counted at ``LifecycleEventBase.of``)."""
    counts: dict[str, int] = {}
    for kind in (StepStarted, StepCompleted, WorkflowStarted, WorkflowCompleted):
        original = kind.of.__func__  # type: ignore[attr-defined]

        def counting(cls: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            counts[cls.__name__] = counts.get(cls.__name__, 0) + 1
            return _original(cls, *args, **kwargs)

        monkeypatch.setattr(kind, "of", classmethod(counting))
    return counts


async def test_a_callback_with_kinds_gets_those_kinds_only_and_steps_build_no_events(hosts, built):
    host = await hosts(f"kinds-{uuid.uuid4()}")
    seen: list[Any] = []
    host.on_lifecycle_event(seen.append, kinds=[WorkflowCompleted])
    wid = await host.start_workflow("kinds")
    await host.wait_for_workflow(wid, timeout=5)
    for _ in range(100):
        if seen:
            break
        await asyncio.sleep(0.01)
    assert [type(e) for e in seen] == [WorkflowCompleted]
    assert (
        built.get("StepStarted", 0) == built.get("StepCompleted", 0) == built.get("WorkflowStarted", 0) == 0
    )
    assert built["WorkflowCompleted"] == 1


async def test_a_callback_without_kinds_or_a_stream_makes_every_kind_built_again(hosts, built):
    host = await hosts(f"kinds-{uuid.uuid4()}")
    host.on_lifecycle_event(lambda e: None, kinds=["WorkflowCompleted"])
    assert host.lifecycle_hub.wanted_kinds() == frozenset(
        {"WorkflowCompleted", "WorkflowTerminated", "WorkflowSuspended", "WorkflowResumed"}
    )
    stream = host.lifecycle_events()
    first = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)  # the stream attaches when it is first awaited
    assert host.lifecycle_hub.wanted_kinds() is None
    wid = await host.start_workflow("kinds")
    assert isinstance(await asyncio.wait_for(first, 5), WorkflowStarted)
    await host.wait_for_workflow(wid, timeout=5)
    await stream.aclose()
    assert host.lifecycle_hub.wanted_kinds() is not None
    assert built["StepStarted"] == built["StepCompleted"] == 2

    seen: list[Any] = []
    host.on_lifecycle_event(seen.append)
    assert host.lifecycle_hub.wanted_kinds() is None
    wid = await host.start_workflow("kinds")
    await host.wait_for_workflow(wid, timeout=5)
    for _ in range(100):
        if any(isinstance(e, WorkflowCompleted) for e in seen):
            break
        await asyncio.sleep(0.01)
    assert [type(e).__name__ for e in seen] == [
        "WorkflowStarted",
        "StepStarted",
        "StepCompleted",
        "StepStarted",
        "StepCompleted",
        "WorkflowCompleted",
    ]


async def test_a_host_builds_what_another_host_on_the_same_channel_takes(hosts, built):
    channel = f"kinds-{uuid.uuid4()}"
    runner = await hosts(channel)
    watcher = await hosts(channel)
    runner.on_lifecycle_event(lambda e: None, kinds=[WorkflowCompleted])
    steps: list[Any] = []
    watcher.on_lifecycle_event(steps.append, kinds=["StepCompleted"])
    wid = await runner.start_workflow("kinds")
    await runner.wait_for_workflow(wid, timeout=5)
    for _ in range(100):
        if len(steps) == 2:
            break
        await asyncio.sleep(0.01)
    assert [type(e) for e in steps] == [StepCompleted, StepCompleted]
    assert built.get("StepStarted", 0) == 0 and built["StepCompleted"] == 2


async def test_the_in_memory_hub_states_its_subscribers_interest():
    hub = MemoryLifecycleHub(channel=f"kinds-{uuid.uuid4()}")
    assert isinstance(hub, LifecycleInterest)
    assert hub.wanted_kinds() == frozenset()

    class Picky:
        def __init__(self, kinds: frozenset[str]) -> None:
            self.kinds = kinds

        def __call__(self, event: Any) -> None:
            pass

        def wanted_kinds(self) -> frozenset[str]:
            return self.kinds

    hub.subscribe(Picky(frozenset({"StepStarted"})))
    other = MemoryLifecycleHub(channel=hub.channel)
    other.subscribe(Picky(frozenset({"WorkflowError"})))
    await other.start()
    try:
        assert hub.wanted_kinds() == frozenset({"StepStarted", "WorkflowError"})
        hub.subscribe(lambda event: None)  # a plain callback takes every kind
        assert hub.wanted_kinds() is None
    finally:
        await other.stop()


def test_an_unknown_kind_is_refused_naming_the_known_ones():
    host = WorkflowHostBuilder().build()
    with pytest.raises(ConfigurationError) as caught:
        host.on_lifecycle_event(print, kinds=["WorkflowFinished"])
    assert "'WorkflowFinished'" in str(caught.value)
    assert all(kind in str(caught.value) for kind in LIFECYCLE_KINDS)


def test_a_removed_callback_no_longer_counts_towards_the_wanted_kinds():
    host = WorkflowHostBuilder().build()
    host.on_lifecycle_event(print)
    assert host._dispatcher.wanted_kinds() is None
    host._dispatcher.remove_callback(print)
    assert host._dispatcher.wanted_kinds() == frozenset(
        {"WorkflowCompleted", "WorkflowTerminated", "WorkflowSuspended", "WorkflowResumed"}
    )
