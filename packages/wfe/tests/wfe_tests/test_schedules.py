"""Schedules driven by ManualClock: cron and interval ticks, overlap, catch-up after every host was down,
trigger and remove, on each store of WFE_TEST_STORES."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from wfe import WorkflowBuilder, WorkflowHost, WorkflowHostBuilder, WorkflowStatus
from wfe_core.errors import WorkflowNotRegisteredError
from wfe_core.models import WorkflowInstance
from wfe_core.providers.memory import MemoryPersistence
from wfe_core.testing import ManualClock
from wfe_core.testing.services import service_url
from wfe_tests.conftest import STORE_PARAMS, drop_test_schema

START = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
QUIET = {"schedule_poll_interval": timedelta(days=1), "poll_interval": timedelta(hours=1)}
"""The schedule loop sleeps until the next tick only (no wake-up each second of manual time)."""


def definitions():
    quick = WorkflowBuilder().then_fn(lambda ctx: None).build("quick", 1)
    waiting = WorkflowBuilder().wait_for("go", "k").then_fn(lambda ctx: None).build("waiting", 1)
    return quick, waiting


async def eventually(check: Callable[[], Any], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout} s: {check}")
        await asyncio.sleep(0.02)


async def runs(host: WorkflowHost, schedule_id: str) -> list[WorkflowInstance]:
    found = await host.persistence.list_workflows(take=1000)
    return sorted((i for i in found if i.id.startswith(f"{schedule_id}@")), key=lambda i: i.id)


@pytest.fixture(params=STORE_PARAMS)
async def shared_store(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Callable[..., Any]]:
    """``host = await start_host(clock, **options)``: started hosts that all share one store."""
    store = request.param
    hosts: list[WorkflowHost] = []
    memory = MemoryPersistence()
    schema = f"wfe_t_{uuid.uuid4().hex[:10]}"
    url = service_url("WFE_TEST_POSTGRES_URL") if store == "postgres" else ""

    async def start_host(clock: ManualClock, **options: Any) -> WorkflowHost:
        builder = WorkflowHostBuilder().use_clock(clock).with_options(**{**QUIET, **options})
        if store == "memory":
            builder.use_persistence(memory)
        elif store == "sqlite":
            builder.use_persistence(f"sqlite:///{tmp_path}/schedules.db")
        else:
            builder.use_persistence(url, schema=schema)
        host = builder.build()
        for definition in definitions():
            host.register_workflow(definition)
        await host.start()
        hosts.append(host)
        return host

    yield start_host
    for host in hosts:
        await host.stop()
    if store == "postgres":
        await drop_test_schema(url, schema)


async def test_an_interval_schedule_starts_one_run_per_tick(shared_store):
    clock = ManualClock(START)
    host = await shared_store(clock)
    schedule = await host.add_schedule("hourly", "quick", every=timedelta(hours=1), data={"n": 1})
    assert schedule.next_fire_time == START + timedelta(hours=1)
    await clock.advance(timedelta(minutes=59))
    await asyncio.sleep(0.1)
    assert await runs(host, "hourly") == []
    await clock.advance(timedelta(minutes=1))
    await eventually(lambda: runs(host, "hourly"))
    first = (await runs(host, "hourly"))[0]
    assert first.id == "hourly@2026-01-01T03:00:00Z"
    assert (await host.wait_for_workflow(first.id, timeout=10)).status is WorkflowStatus.COMPLETE
    [listed] = await host.list_schedules()
    assert listed.next_fire_time == START + timedelta(hours=2)
    assert listed.last_workflow_id == first.id
    await clock.advance(timedelta(hours=1))

    async def two() -> bool:
        return len(await runs(host, "hourly")) == 2

    await eventually(two)


async def test_a_cron_schedule_fires_at_its_times_in_its_timezone(shared_store):
    clock = ManualClock(START)
    host = await shared_store(clock)
    # 03:00 in Paris is 02:00 UTC in winter: the first tick is the next day's
    paris = await host.add_schedule("paris", "quick", cron="0 3 * * *", timezone="Europe/Paris")
    assert paris.next_fire_time == datetime(2026, 1, 2, 2, 0, tzinfo=UTC)
    utc = await host.add_schedule("utc", "quick", cron="0 3 * * *")
    assert utc.next_fire_time == datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
    await clock.advance(timedelta(hours=1))
    await eventually(lambda: runs(host, "utc"))
    assert [r.id for r in await runs(host, "utc")] == ["utc@2026-01-01T03:00:00Z"]
    assert await runs(host, "paris") == []


@pytest.mark.parametrize(
    ("overlap", "expected"),
    [
        ("skip", ["Runnable"]),
        ("allow", ["Runnable", "Runnable"]),
        ("terminate_previous", ["Terminated", "Runnable"]),
    ],
)
async def test_overlap_decides_what_a_tick_does_while_the_previous_run_runs(shared_store, overlap, expected):
    clock = ManualClock(START)
    host = await shared_store(clock)
    await host.add_schedule("o", "waiting", every=timedelta(minutes=1), overlap=overlap)
    await clock.advance(timedelta(minutes=1))
    await eventually(lambda: runs(host, "o"))
    await clock.advance(timedelta(minutes=1))

    async def settled() -> bool:
        listed = await host.list_schedules()
        return listed[0].next_fire_time == START + timedelta(minutes=3)

    await eventually(settled)

    async def statuses() -> bool:
        return [r.status.value for r in await runs(host, "o")] == expected

    await eventually(statuses)


async def test_skip_starts_again_once_the_previous_run_ended(shared_store):
    clock = ManualClock(START)
    host = await shared_store(clock)
    await host.add_schedule("s", "waiting", every=timedelta(minutes=1))
    await clock.advance(timedelta(minutes=1))
    await eventually(lambda: runs(host, "s"))
    await host.publish_event("go", "k")
    await host.wait_for_workflow("s@2026-01-01T02:01:00Z", timeout=10)
    await clock.advance(timedelta(minutes=1))

    async def two() -> bool:
        return [r.id for r in await runs(host, "s")] == ["s@2026-01-01T02:01:00Z", "s@2026-01-01T02:02:00Z"]

    await eventually(two)


@pytest.mark.parametrize(
    ("catch_up", "expected"),
    [
        ("all", ["03", "04", "05", "06", "07"]),
        ("latest", ["07"]),
        ("none", []),
    ],
)
async def test_ticks_missed_while_every_host_was_down_follow_catch_up(shared_store, catch_up, expected):
    clock = ManualClock(START)
    first = await shared_store(clock)
    await first.add_schedule("c", "quick", every=timedelta(hours=1), overlap="allow", catch_up=catch_up)
    await first.stop()
    await clock.advance(timedelta(hours=5, minutes=30))  # ticks 03:00 .. 07:00 pass with no host up
    second = await shared_store(clock)
    # the host re-adds its schedule at start, as `wfe serve` does: the missed ticks are kept
    await second.add_schedule("c", "quick", every=timedelta(hours=1), overlap="allow", catch_up=catch_up)

    async def advanced() -> bool:
        [schedule] = await second.list_schedules()
        return schedule.next_fire_time == datetime(2026, 1, 1, 8, 0, tzinfo=UTC)

    await eventually(advanced)
    assert [r.id for r in await runs(second, "c")] == [f"c@2026-01-01T{h}:00:00Z" for h in expected]
    await clock.advance(timedelta(minutes=30))

    async def next_one() -> bool:
        return "c@2026-01-01T08:00:00Z" in [r.id for r in await runs(second, "c")]

    await eventually(next_one)


async def test_two_hosts_on_one_store_start_each_tick_once(shared_store):
    clock = ManualClock(START)
    hosts = [await shared_store(clock) for _ in range(2)]
    await hosts[0].add_schedule("pair", "quick", every=timedelta(minutes=1), overlap="allow")
    await hosts[1].add_schedule("pair", "quick", every=timedelta(minutes=1), overlap="allow")
    for _ in range(3):
        await clock.advance(timedelta(minutes=1))
        await asyncio.sleep(0.05)

    async def three() -> bool:
        return len(await runs(hosts[0], "pair")) == 3

    await eventually(three)
    assert [r.id for r in await runs(hosts[0], "pair")] == [f"pair@2026-01-01T02:0{m}:00Z" for m in (1, 2, 3)]


async def test_trigger_starts_a_run_now_and_remove_stops_the_ticks(shared_store):
    clock = ManualClock(START)
    host = await shared_store(clock)
    await host.add_schedule("t", "quick", every=timedelta(hours=1))
    triggered = await host.trigger_schedule("t")
    assert triggered == "t@2026-01-01T02:00:00Z-trigger"
    assert (await host.wait_for_workflow(triggered, timeout=10)).status is WorkflowStatus.COMPLETE
    assert await host.remove_schedule("t") is True
    assert await host.remove_schedule("t") is False
    assert await host.list_schedules() == []
    await clock.advance(timedelta(hours=2))
    await asyncio.sleep(0.2)
    assert [r.id for r in await runs(host, "t")] == [triggered]


async def test_readding_with_the_same_timing_keeps_the_next_tick_and_a_new_timing_resets_it(shared_store):
    clock = ManualClock(START)
    host = await shared_store(clock)
    await host.add_schedule("r", "quick", every=timedelta(hours=1))
    await clock.advance(timedelta(minutes=30))
    kept = await host.add_schedule("r", "quick", every=timedelta(hours=1), data={"changed": True})
    assert kept.next_fire_time == START + timedelta(hours=1)
    assert kept.data == {"changed": True}
    moved = await host.add_schedule("r", "quick", every=timedelta(minutes=20))
    assert moved.next_fire_time == START + timedelta(minutes=40)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({}, ValueError, "exactly one of cron"),
        ({"cron": "0 3 * * *", "every": timedelta(hours=1)}, ValueError, "exactly one of cron"),
        ({"cron": "every day"}, ValueError, "not a valid cron"),
        ({"every": timedelta(0)}, ValueError, "positive timedelta"),
        ({"every": timedelta(hours=1), "timezone": "Mars/Olympus"}, ValueError, "IANA"),
        ({"every": timedelta(hours=1), "overlap": "queue"}, ValueError, "overlap"),
        ({"every": timedelta(hours=1), "catch_up": "some"}, ValueError, "catch_up"),
    ],
)
async def test_a_bad_schedule_is_refused_naming_the_fix(shared_store, kwargs, error, match):
    host = await shared_store(ManualClock(START))
    with pytest.raises(error, match=match):
        await host.add_schedule("bad", "quick", **kwargs)
    assert await host.list_schedules() == []


async def test_a_schedule_of_an_unregistered_definition_is_refused(shared_store):
    host = await shared_store(ManualClock(START))
    with pytest.raises(WorkflowNotRegisteredError):
        await host.add_schedule("typo", "quik", every=timedelta(hours=1))


async def test_a_tick_whose_run_was_started_by_a_host_that_died_before_advancing_starts_nothing_more(
    shared_store,
):
    clock = ManualClock(START)
    host = await shared_store(clock)
    await host.add_schedule("d", "waiting", every=timedelta(hours=1), overlap="allow")
    # what a host that died between starting the tick's run and moving the schedule on leaves behind
    await host.start_workflow("waiting", workflow_id="d@2026-01-01T03:00:00Z")
    await clock.advance(timedelta(hours=1))

    async def advanced() -> bool:
        [schedule] = await host.list_schedules()
        return schedule.next_fire_time == START + timedelta(hours=2)

    await eventually(advanced)
    assert [r.id for r in await runs(host, "d")] == ["d@2026-01-01T03:00:00Z"]
