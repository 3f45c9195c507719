"""Runs of the new instances a host starts itself: a workflow slot (or a place in line for one) and the
lease, taken before the instance is stored or with it, so the run needs neither the queue nor a reload."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from wfe._local_run import LocalRun
from wfe_core.models import Lease, QueueType, WorkflowInstance, WorkflowStatus

if TYPE_CHECKING:
    from wfe._runner import InstanceRunner

START_WAIT = 1.0
"""Seconds a new instance started on a host whose workflow slots are all busy waits here, leased, for one of
them before it is queued for any host (``Reservations.place_for``)."""

LINE_PER_SLOT = 10
"""How many new instances may wait here for a workflow slot, per slot: a burst of starts on a full host runs
here as the runs ahead end, and what is more is queued for any host at once."""


class Reservations:
    """Slots, places in line and leases for the new instances this host starts, for ``StartVerbs``.

    With every workflow slot busy, a new instance takes a place in line (at most ``LINE_PER_SLOT`` per slot)
    and its lease, and the run ``InstanceRunner.spawn_run`` starts waits for a slot (``slot_in_time``)
    before it runs it."""

    def __init__(self, runner: InstanceRunner) -> None:
        self.runner = runner
        self.waiting = 0
        """New instances started here while every slot was busy, waiting in line for one (``place_for``)."""
        self.writing: set[str] = set()
        """Ids of the new instances whose creation and lease ``create_reserved`` is writing: the poller leaves
        them to the run that registers once the write is back, as it leaves the instances that run here."""

    async def reserve_new(self, workflow_id: str) -> tuple[LocalRun, Lease] | None:
        """Take the lease of an instance about to be created here, so this host can run it straight away.

        None when this host has neither a free workflow slot nor a place in line for one (see ``place_for``),
        or is stopping, or the lease is taken: the instance then goes through the queue as usual. Holding the
        lease from before the instance exists means no other host can have written it, so the run needs neither
        a fence claim nor a load."""
        r = self.runner
        run = self.place_for(workflow_id)
        if run is None:
            return None
        try:
            taken = await r.leases.acquire(workflow_id)
        except BaseException:
            self.give_place(run)
            raise
        lease = await self._keep(workflow_id, run, taken)
        return None if lease is None else (run, lease)

    async def create_reserved(
        self, instance: WorkflowInstance, *, once: bool
    ) -> tuple[bool, tuple[LocalRun, Lease] | None] | None:
        """``reserve_new`` and the instance's creation in one write, when the persistence can store an instance
        and take its lease in one transaction with this host's lock (``LeasedCreate``): one commit to wait for
        instead of two. None when it cannot (the caller reserves and creates apart); else whether the instance
        was created and, when this host is to run it, its run and lease (None: no free slot, or the lease was
        held, so the instance goes through the queue). ``instance.id`` must be set.

        Cancelled while the write is in flight, the write still ends as it would have; a lease it took is then
        released and the instance queued, so a run neither waits for the lease to lapse nor is lost."""
        r = self.runner
        persistence = r.creator
        if persistence is None:
            return None
        workflow_id = instance.id
        run = self.place_for(workflow_id)
        if run is None:
            return None
        write = asyncio.ensure_future(r.leases.create_leased(persistence, instance, once=once))
        self.writing.add(workflow_id)
        try:
            created, taken = await asyncio.shield(write)
        except asyncio.CancelledError:
            self.give_place(run)
            r.spawn(self._abandon(workflow_id, write))
            raise
        except BaseException:
            self.give_place(run)
            raise
        finally:
            self.writing.discard(workflow_id)
        lease = await self._keep(workflow_id, run, taken)
        return created, None if lease is None else (run, lease)

    async def _keep(self, workflow_id: str, run: LocalRun, taken: tuple[Lease, float] | None) -> Lease | None:
        """The lease taken for ``run``, which now runs here; None, with the lease released and the place given
        back, when it was held elsewhere or a queue delivery of the same id got here first (without it)."""
        r = self.runner
        if taken is None or workflow_id in r.runs:
            if taken is not None:
                await r.leases.release(taken[0])
            self.give_place(run)
            return None
        lease, run.lease_valid_until = taken
        r.runs[workflow_id] = run
        return lease

    async def _abandon(
        self, workflow_id: str, write: asyncio.Future[tuple[bool, tuple[Lease, float] | None]]
    ) -> None:
        """After a start cancelled during ``create_reserved``'s write: release the lease it took and queue the
        instance it stored, so another run picks it up at once."""
        r = self.runner
        try:
            created, taken = await write
        except Exception:
            return  # nothing was written
        if taken is not None:
            await r.leases.release(taken[0])
        if created:
            await r.queue.enqueue(QueueType.WORKFLOW, workflow_id)

    async def cancel(self, workflow_id: str, run: LocalRun, lease: Lease) -> None:
        """The instance was not created after all: give the slot (or place in line) and the lease back."""
        r = self.runner
        r.runs.pop(workflow_id, None)
        self.give_place(run)
        await r.leases.release(lease)

    def place_for(self, workflow_id: str) -> LocalRun | None:
        """A run for an instance about to be created here: with a workflow slot taken or, when every slot is
        busy, with a place in line for one (``run.waiting``; its run waits for the slot), as long as fewer
        than ``LINE_PER_SLOT`` new instances per slot wait. None when stopping, when it runs here already or when
        the slots and the line are full."""
        r = self.runner
        if r.stopping or workflow_id in r.runs:
            return None
        if r.slots.try_take():
            return LocalRun()
        if self.waiting >= LINE_PER_SLOT * r.slots.limit:
            return None
        self.waiting += 1
        return LocalRun(waiting=True)

    def give_place(self, run: LocalRun) -> None:
        """Give back what ``place_for`` took for ``run``."""
        r = self.runner
        if run.waiting:
            run.waiting = False
            self.waiting -= 1
        else:
            r.slots.give()

    async def slot_in_time(self, instance: WorkflowInstance, run: LocalRun, lease: Lease) -> bool:
        """Wait in line for a workflow slot, up to ``START_WAIT`` (the runs ahead usually end within
        milliseconds). True once taken; else the instance is let go of (what was asked of it meanwhile applied,
        its lease released) and queued for any host, as a start on a full host was before it could wait here."""
        r = self.runner
        ttl = r.options.lock_ttl.total_seconds()
        try:
            # a third of the ttl at most: the first renewal, a third of it after the run begins, comes in time
            taken = not r.stopping and await r.slots.take_within(min(START_WAIT, ttl / 3))
        except BaseException:
            r.runs.pop(instance.id, None)  # the lease lapses by itself; the instance is stored runnable
            raise
        finally:
            run.waiting = False
            self.waiting -= 1
        if taken and not r.stopping:
            return True
        if taken:
            r.slots.give()
        del r.runs[instance.id]
        try:
            if run.terminate or run.suspend:
                await r.control.apply_requests(instance, run, lease)
        finally:
            await r.leases.release(lease)
        if instance.status is WorkflowStatus.RUNNABLE:
            await r.queue.enqueue(QueueType.WORKFLOW, instance.id)
        return False


__all__ = ["LINE_PER_SLOT", "START_WAIT", "Reservations"]
