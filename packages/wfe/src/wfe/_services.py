"""Starting and stopping the host: connecting the providers and running the background services."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from wfe._consumers import Consumers
from wfe._lifecycle import LifecycleDispatcher
from wfe._lock_family import check_lock_family
from wfe._options import HostOptions
from wfe._queues import QueueGate
from wfe._runner import InstanceRunner
from wfe._timers import WakeupTimers
from wfe_core.lease_owner import LeaseOwner
from wfe_core.protocols import (
    ArtifactStore,
    LeaseTakeover,
    LifecycleHub,
    LockProvider,
    PersistenceProvider,
    QueueProvider,
    ScheduleStore,
    SearchIndex,
)

log = logging.getLogger("wfe.host")


class HostServices:
    """The host's start and stop (mixed into ``WorkflowHost``)."""

    persistence: PersistenceProvider
    artifact_store: ArtifactStore
    lock: LockProvider
    queue: QueueProvider
    search_index: SearchIndex | None
    lifecycle_hub: LifecycleHub
    options: HostOptions
    _dispatcher: LifecycleDispatcher
    _timers: WakeupTimers
    _gate: QueueGate
    _runner: InstanceRunner
    _consumers: Consumers
    _loops: list[asyncio.Task[None]]
    _started: bool
    _hub_attached: bool

    if TYPE_CHECKING:  # ScheduleVerbs'

        async def _schedule_loop(self) -> None: ...

    # -- lifecycle of the host ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the store if needed, connect the providers and start the background services.

        When a provider cannot start (a URL that cannot work, say), the ones already connected are disconnected
        again before the error is raised: a failed start leaves no pool or connection behind."""
        if self._started:
            return
        try:
            await self.persistence.ensure_store_exists()
            await self.artifact_store.start()
            await check_lock_family(self.persistence, self.lock)
            await self.lock.start()
            await self._take_over_leases()
            await self.queue.start()
            if self.search_index is not None:
                await self.search_index.start()
            if not self._hub_attached:
                self.lifecycle_hub.subscribe(self._dispatcher)
                self._hub_attached = True
            await self.lifecycle_hub.start()
        except BaseException:
            await self._disconnect()
            raise
        self._runner.open()
        self._loops = [asyncio.create_task(loop()) for loop in self._consumers.tasks()]
        if isinstance(self.persistence, ScheduleStore):
            self._loops.append(asyncio.create_task(self._schedule_loop()))
        self._started = True

    async def stop(self) -> None:
        """Stop taking work, wait (bounded by ``stop_timeout``) for running steps, then disconnect."""
        if not self._started:
            return
        self._started = False
        self._runner.close()
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops = []
        await self._runner.drain(self.options.stop_timeout.total_seconds())
        await self._consumers.release_held()
        await self._gate.stop()
        await self._timers.close()
        await self.lifecycle_hub.stop()
        if self.search_index is not None:
            await self.search_index.stop()
        await self.queue.stop()
        await self.lock.stop()
        await self.persistence.close()
        await self.artifact_store.close()

    async def _disconnect(self) -> None:
        """After a failed start: stop every provider (each stop is idempotent), whatever each one says."""
        stops = [
            self.lifecycle_hub.stop,
            self.queue.stop,
            self.lock.stop,
            self.persistence.close,
            self.artifact_store.close,
        ]
        if self.search_index is not None:
            stops.insert(1, self.search_index.stop)
        for stop in stops:
            try:
                await stop()
            except Exception:
                log.debug("stopping a provider after a failed start failed", exc_info=True)

    async def _take_over_leases(self) -> None:
        """Release the leases a predecessor of this host left behind when it is proven gone (see
        ``LeaseOwner.supersedes``), so what it was running runs again now rather than after the lease ttl."""
        if not isinstance(self.lock, LeaseTakeover):
            return
        released = await self.lock.take_over(LeaseOwner.of_this_process(self.options.host_id))
        if released:
            log.info(
                "took over %d lease(s) of a host that is gone: %s",
                len(released),
                ", ".join(sorted(released)[:10]) + (", ..." if len(released) > 10 else ""),
            )


__all__ = ["HostServices"]
