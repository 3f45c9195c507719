"""A run's lease is renewed while its steps outlast it, and let go of when it ends."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import timedelta

import pytest

from wfe import ExecutionResult, StepExecutionContext, WorkflowBuilder, WorkflowHostBuilder, WorkflowStatus
from wfe._leases import Leases
from wfe._local_run import LocalRun
from wfe._options import HostOptions
from wfe_core.models import Lease
from wfe_core.providers.memory import MemoryLock, MemoryPersistence

TTL = timedelta(seconds=0.3)


def slow(seconds: float, runs: list[str]):  # type: ignore[no-untyped-def]
    async def work(ctx: StepExecutionContext) -> ExecutionResult:
        await asyncio.sleep(seconds)
        runs.append(ctx.workflow.id)
        return ExecutionResult.next()

    return WorkflowBuilder().then_fn(work, name="work").then_fn(work, name="again").build("slow", 1)


async def test_runs_started_at_different_moments_keep_their_leases_past_the_ttl(make_host, caplog):
    """Steps of 0.7 s under a lease of 0.3 s, started over a whole renewal period: each lease must be renewed
    within a third of the ttl of its taking and of its last renewal, without the renewals of the other runs
    holding it up."""
    caplog.set_level(logging.WARNING)
    runs: list[str] = []
    host = await make_host(slow(0.7, runs), lock_ttl=TTL)
    ids = []
    for _ in range(6):
        ids.append(await host.start_workflow("slow", 1))
        await asyncio.sleep(0.04)  # the starts spread over more than one tick (every 0.1 s)
    for workflow_id in ids:
        done = await host.wait_for_workflow(workflow_id, timeout=30)
        assert done.status is WorkflowStatus.COMPLETE
    assert sorted(runs) == sorted(ids * 2)  # each step ran once: no lease lapsed, no other run took over
    assert "lost" not in caplog.text and "lapsed" not in caplog.text


async def test_a_run_that_ends_frees_its_lease_at_once() -> None:
    lock = MemoryLock()
    runs: list[str] = []
    host = (
        WorkflowHostBuilder()
        .use_persistence(MemoryPersistence())
        .use_lock(lock)
        .with_options(lock_ttl=TTL)
        .build()
    )
    host.register_workflow(slow(0.25, runs))
    async with host:
        workflow_id = await host.start_workflow("slow", 1)
        await host.wait_for_workflow(workflow_id, timeout=30)
        # released with the run, not left to lapse: another holder takes it now
        assert await lock.acquire(workflow_id, TTL) is not None


def test_a_host_started_again_in_another_event_loop_still_renews() -> None:
    """Renewals run in the event loop of the run: a host stopped and started again in a new loop (another
    ``asyncio.run``) renews its leases there, or they would lapse under long steps."""
    runs: list[str] = []
    persistence, lock = MemoryPersistence(), MemoryLock()
    host = (
        WorkflowHostBuilder().use_persistence(persistence).use_lock(lock).with_options(lock_ttl=TTL).build()
    )
    host.register_workflow(slow(0.5, runs))

    async def once() -> str:
        async with host:
            workflow_id = await host.start_workflow("slow", 1)
            done = await host.wait_for_workflow(workflow_id, timeout=30)
            assert done.status is WorkflowStatus.COMPLETE
            return workflow_id

    ids: list[str] = []
    for _ in range(2):  # each in a loop of its own, as in a thread with a fresh loop
        thread = threading.Thread(target=lambda: ids.append(asyncio.run(once())))
        thread.start()
        thread.join(timeout=60)
    assert len(ids) == 2
    assert sorted(runs) == sorted(ids * 2)


class CountingLock(MemoryLock):
    """A lock that records when each renewal was asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.renewed: list[float] = []

    async def renew(self, lease: Lease, ttl: timedelta) -> Lease | None:
        self.renewed.append(asyncio.get_running_loop().time())
        return await super().renew(lease, ttl)


async def test_runs_that_end_before_a_round_make_no_timer_and_those_that_outlive_it_renew_in_time() -> None:
    lock = CountingLock()
    leases = Leases(lock, HostOptions(lock_ttl=TTL))
    loop = asyncio.get_running_loop()
    short = []
    for number in range(50):
        run = LocalRun(lease_valid_until=time.monotonic() + TTL.total_seconds())
        lease = await lock.acquire(f"short-{number}", TTL)
        assert lease is not None
        short.append(leases.renewal(lease, run))
    for renewal in short:
        await renewal.stop()
    assert not leases.arming.waiting
    assert all(renewal.timer is None and renewal.task is None for renewal in short)

    long_run = LocalRun(lease_valid_until=time.monotonic() + TTL.total_seconds())
    lease = await lock.acquire("long", TTL)
    assert lease is not None
    began = loop.time()
    renewal = leases.renewal(lease, long_run)
    await asyncio.sleep(0.45)  # past the ttl: renewed at about 0.1, 0.2, 0.3 and 0.4 s
    await renewal.stop()
    assert not long_run.lease_lost
    assert not [renewal for renewal in short if renewal.timer is not None]
    assert len(lock.renewed) >= 3
    first, gaps = (
        lock.renewed[0] - began,
        [b - a for a, b in zip(lock.renewed, lock.renewed[1:], strict=False)],
    )
    assert 0.09 <= first < 0.2, "the first renewal comes a third of the ttl after the lease was taken"
    assert all(gap < 0.2 for gap in gaps)
    assert await lock.acquire("long", TTL) is None, "still held: renewed until the run let go of it"
    count = len(lock.renewed)
    await asyncio.sleep(0.15)
    assert len(lock.renewed) == count, "no renewal after stop()"


@pytest.fixture(autouse=True)
def _no_stray_tasks(recwarn):  # type: ignore[no-untyped-def]
    yield
    assert not [w for w in recwarn if "was destroyed but it is pending" in str(w.message)]
