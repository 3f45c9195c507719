"""Durable delays, schedules and recurring branches; the controllable clock makes hours pass instantly."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from pydantic import BaseModel

from wfe import PointerStatus, StepExecutionContext, WorkflowBuilder, WorkflowStatus
from wfe_core.testing import ManualClock


class Ticks(BaseModel):
    ticks: int = 0
    done: bool = False
    log: list[str] = []


async def test_one_hour_delay_completes_in_well_under_a_second_with_the_test_clock(make_host):
    clock = ManualClock()
    definition = (
        WorkflowBuilder(Ticks)
        .delay(timedelta(hours=1))
        .then_fn(lambda ctx: ctx.data.log.append("after"))
        .build("hour", 1)
    )
    host = await make_host(definition, clock=clock)
    started = time.monotonic()
    wid = await host.start_workflow("hour", 1, Ticks())
    await clock.wait_for_sleepers(1)
    sleeping = await host.get_workflow(wid)
    assert [p.status for p in sleeping.execution_pointers] == [PointerStatus.SLEEPING]
    await clock.advance(timedelta(minutes=59))
    await asyncio.sleep(0.05)
    assert (await host.get_workflow(wid)).status is WorkflowStatus.RUNNABLE
    await clock.advance(timedelta(minutes=1))
    done = await host.wait_for_workflow(wid, timeout=5)
    assert done.data.log == ["after"]
    assert time.monotonic() - started < 1.0


async def test_short_delay_wakes_without_waiting_for_the_poller(make_host):
    definition = (
        WorkflowBuilder().delay(timedelta(milliseconds=200)).then_fn(lambda ctx: None).build("short", 1)
    )
    host = await make_host(definition, poll_interval=timedelta(hours=1))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await host.wait_for_workflow(await host.start_workflow("short"), timeout=5)
    assert 0.2 <= loop.time() - started < 1.0


async def test_delay_from_data(make_host):
    clock = ManualClock()
    definition = (
        WorkflowBuilder(Ticks)
        .delay(lambda data, ctx: timedelta(minutes=data.ticks))
        .then_fn(lambda ctx: None)
        .build("data-delay", 1)
    )
    host = await make_host(definition, clock=clock)
    wid = await host.start_workflow("data-delay", 1, Ticks(ticks=30))
    await clock.wait_for_sleepers(1)
    await clock.advance(timedelta(minutes=30))
    assert (await host.wait_for_workflow(wid, timeout=5)).status is WorkflowStatus.COMPLETE


async def test_schedule_runs_its_branch_once_in_the_background(make_host):
    clock = ManualClock()
    definition = (
        WorkflowBuilder(Ticks)
        .then_fn(lambda ctx: ctx.data.log.append("start"))
        .schedule(timedelta(minutes=5))
        .do(lambda b: b.then_fn(lambda ctx: ctx.data.log.append("scheduled")))
        .then_fn(lambda ctx: ctx.data.log.append("foreground"))
        .build("schedule", 1)
    )
    host = await make_host(definition, clock=clock)
    wid = await host.start_workflow("schedule", 1, Ticks())
    await clock.wait_for_sleepers(1)
    assert (await host.get_workflow(wid)).data.log == ["start", "foreground"]
    await clock.advance(timedelta(minutes=5))
    done = await host.wait_for_workflow(wid, timeout=5)
    assert done.data.log == ["start", "foreground", "scheduled"]


async def test_recur_repeats_until_its_condition_holds(make_host):
    clock = ManualClock()

    def tick(ctx: StepExecutionContext) -> None:
        ctx.data.ticks += 1

    definition = (
        WorkflowBuilder(Ticks)
        .then_fn(lambda ctx: None)
        .recur(timedelta(minutes=1), lambda d: d.ticks >= 3)
        .do(lambda b: b.then_fn(tick))
        .build("recur", 1)
    )
    host = await make_host(definition, clock=clock)
    wid = await host.start_workflow("recur", 1, Ticks())
    for _ in range(5):
        await clock.wait_for_sleepers(1)
        await clock.advance(timedelta(minutes=1))
        await asyncio.sleep(0.05)
        if (await host.get_workflow(wid)).status is WorkflowStatus.COMPLETE:
            break
    done = await host.wait_for_workflow(wid, timeout=5)
    assert done.data.ticks == 3
