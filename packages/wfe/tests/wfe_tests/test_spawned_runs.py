"""The runs a host starts as tasks of their own: stop() waits for them, and none is left behind once it ends."""

from __future__ import annotations

import asyncio

from wfe import StepExecutionContext, WorkflowBuilder, WorkflowStatus
from wfe_core.models import Lease

from .test_recovery import _no_poller


async def test_finished_runs_leave_nothing_for_stop_to_wait_for(make_host):
    definition = WorkflowBuilder().then_fn(lambda ctx: None).then_fn(lambda ctx: None).build("two", 1)
    host = await make_host(definition)
    ids = await asyncio.gather(*(host.start_workflow("two") for _ in range(50)))
    for wid in ids:
        assert (await host.wait_for_workflow(wid, timeout=10)).status is WorkflowStatus.COMPLETE
    await asyncio.sleep(0)  # the last run's task ends after its completion is announced
    assert not host._runner.inflight, "each run took its task out as it ended"


async def test_a_run_cancelled_before_it_began_does_not_hold_up_stop(make_host):
    gate = asyncio.Event()

    async def wait_for_gate(ctx: StepExecutionContext) -> None:
        await gate.wait()

    host = await make_host(WorkflowBuilder().then_fn(wait_for_gate).build("gated", 1), stop_timeout=0.2)
    _no_poller(host)
    runner = host._runner
    started = await host.start_workflow("gated")
    # A run spawned and cancelled before its first step never runs the code that takes its task out.
    instance = await host.persistence.get_workflow(started)
    run = runner.reservations.place_for("never-begun")
    assert run is not None
    before = set(runner.inflight)
    runner.spawn_run(instance, run, Lease(resource="never-begun", token="t", fence=1))
    (never_begun,) = runner.inflight - before
    never_begun.cancel()  # before the loop ever ran it
    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.wait_for(host.stop(), timeout=5)
    assert loop.time() - began < 2, "stop waited for the gated run up to its stop_timeout, no longer"
    assert not runner.inflight
