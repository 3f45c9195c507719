"""Leases and fencing: taking, renewing, checking and releasing an instance's lease."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from functools import partial
from time import monotonic

from wfe._local_run import LocalRun
from wfe._options import HostOptions
from wfe_core.errors import LeaseLostError
from wfe_core.models import Lease, WorkflowInstance
from wfe_core.protocols import LeasedCreate, LockProvider, ReleasingPersist
from wfe_core.write_guard import guarded_writes

log = logging.getLogger("wfe.runner")


class Leases:
    """The instances' leases from the lock provider, and the host's own check that one is still held.

    A run holds its instance's lease while it advances it; the store's fencing refuses the writes of a holder
    that lost it, and ``check`` keeps a host frozen past its lease from even trying."""

    def __init__(self, lock: LockProvider, options: HostOptions) -> None:
        self.lock = lock
        # read once (the options are frozen): each read of a pydantic model's field goes through its hook
        self.ttl = options.lock_ttl
        self.ttl_seconds = self.ttl.total_seconds()
        self.arming = Arming(self.ttl_seconds / 3)

    async def acquire(self, workflow_id: str) -> tuple[Lease, float] | None:
        """The instance's lease and the ``time.monotonic()`` until which it is surely held (ttl after asking)."""
        asked = monotonic()
        lease = await self.lock.acquire(workflow_id, self.ttl)
        return None if lease is None else (lease, asked + self.ttl_seconds)

    def creates_with(self, persistence: object) -> LeasedCreate | None:
        """``persistence`` when it can write a new instance and its lease in one transaction with this lock
        (``LeasedCreate``), else None (a start then acquires the lease and creates the instance apart)."""
        if isinstance(persistence, LeasedCreate) and persistence.leases_with(self.lock):
            return persistence
        return None

    def releases_with(self, persistence: object) -> ReleasingPersist | None:
        """``persistence`` when it can write a run's last pass and release its lease in one transaction with this
        lock (``ReleasingPersist``), else None (the run releases the lease after its last write)."""
        if isinstance(persistence, ReleasingPersist) and persistence.leases_with(self.lock):
            return persistence
        return None

    async def create_leased(
        self, persistence: LeasedCreate, instance: WorkflowInstance, *, once: bool
    ) -> tuple[bool, tuple[Lease, float] | None]:
        """Store the new instance and take its lease in one transaction: whether it was created, and the lease
        with the monotonic time until which it is surely held (None when not taken), as ``acquire``."""
        asked = monotonic()
        created, lease = await persistence.create_workflow_leased(instance, self.lock, self.ttl, once=once)
        return created, None if lease is None else (lease, asked + self.ttl_seconds)

    async def release(self, lease: Lease) -> None:
        try:
            await self.lock.release(lease)
        except Exception:
            log.warning("could not release the lease on %s; it lapses after %s", lease.resource, self.ttl)

    async def renew(self, lease: Lease, run: LocalRun) -> bool:
        """Renew the lease once; False (and the run marked) when it was lost, or released with the last pass."""
        if run.released:
            return False
        asked = monotonic()
        try:
            renewed = await self.lock.renew(lease, self.ttl)
        except Exception:
            renewed = None
        if renewed is None or asked > run.lease_valid_until:
            run.lease_lost = True
            log.error("lease on %s lost; this host stops writing it", lease.resource)
            return False
        run.lease_valid_until = asked + self.ttl_seconds
        return True

    def check(self, run: LocalRun, lease: Lease) -> None:
        """Refuse to write once the lease may have lapsed; fencing in the store covers the rest. Any thread may
        call it (a store's own runs the check again as it sends the write)."""
        if run.lease_lost or monotonic() >= run.lease_valid_until:
            run.lease_lost = True
            raise LeaseLostError(
                lease.resource, "this host held it too long without renewal; nothing written"
            )

    def fenced(self, run: LocalRun, lease: Lease) -> guarded_writes:
        """Around a fenced write under ``lease`` (``with leases.fenced(run, lease):``): ``check`` now, and again
        as the store sends the write (a store may hold it back behind a batch in flight, and a host frozen
        meanwhile must not send it once thawed)."""
        self.check(run, lease)
        return guarded_writes(partial(self.check, run, lease))

    def renewal(self, lease: Lease, run: LocalRun) -> Renewal:
        """Start renewing ``lease`` for ``run``; ``await renewal.stop()`` when the run lets go of it."""
        return Renewal(self, lease, run)


class Renewal:
    """Renews a lease every third of its ttl while a run holds it.

    A timer of its own, armed only for a run still going at the host's next arming round (``Arming``): most
    runs end within milliseconds, and a timer made and cancelled for each of them cost more than the rest of
    the run's bookkeeping. The first renewal still comes a third of the ttl after the run took the lease."""

    __slots__ = ("interval", "lease", "leases", "loop", "run", "started", "task", "timer")

    def __init__(self, leases: Leases, lease: Lease, run: LocalRun) -> None:
        self.leases, self.lease, self.run = leases, lease, run
        self.interval = leases.arming.interval
        self.task: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.loop = leases.arming.add(self)
        self.started = self.loop.time()

    def arm(self) -> None:
        """Called by the arming round: renew a third of the ttl after the run began (at once if that is past)."""
        self.timer = self.loop.call_at(self.started + self.interval, self._fire)

    def _fire(self) -> None:
        self.timer = None
        self.task = self.loop.create_task(self._renew())

    async def _renew(self) -> None:
        if await self.leases.renew(self.lease, self.run):
            self.timer = self.loop.call_later(self.interval, self._fire)

    async def stop(self) -> None:
        self.leases.arming.discard(self)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        task = self.task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.timer is not None:  # the renewal finished and re-armed while we waited for it
            self.timer.cancel()
            self.timer = None


class Arming:
    """Arms the renewal timers of the runs that outlive one round, a round every half of the renewal interval
    while runs are held: a run that ends before the next round never makes a timer.

    A run that began just after a round is armed at the next one, half an interval later, for a renewal one
    interval after it began: as early as a timer of its own made when it began. A round late by a busy loop
    arms renewals already due, which fire at once; a timer of its own would have been as late."""

    __slots__ = ("interval", "loop", "round", "waiting")

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.waiting: dict[Renewal, None] = {}
        """The renewals not armed yet (a dict: ordered, and removing one costs what adding it did)."""
        self.loop: asyncio.AbstractEventLoop | None = None
        self.round: asyncio.TimerHandle | None = None

    def add(self, renewal: Renewal) -> asyncio.AbstractEventLoop:
        """Wait for the next round; the running loop (the one the renewal's timer and task run in)."""
        loop = asyncio.get_running_loop()
        if loop is not self.loop:  # a host started again in another loop: what the old one held is gone
            self.waiting.clear()
            self.loop, self.round = loop, None
        self.waiting[renewal] = None
        if self.round is None:
            self.round = loop.call_later(self.interval / 2, self._arm)
        return loop

    def discard(self, renewal: Renewal) -> None:
        self.waiting.pop(renewal, None)

    def _arm(self) -> None:
        self.round = None
        waiting, self.waiting = self.waiting, {}
        for renewal in waiting:
            renewal.arm()
