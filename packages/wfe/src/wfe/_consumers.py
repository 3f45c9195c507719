"""The host's background loops: workflow, event and index consumers, the runnable poller and the purger."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

from wfe._activities import ACTIVITY_RESULT_EVENT_NAME
from wfe._options import HostOptions
from wfe._runner import InstanceRunner
from wfe._slots import Slots
from wfe._timers import WakeupTimers
from wfe_core.errors import EventNotFoundError, SubscriptionNotFoundError, WorkflowNotFoundError
from wfe_core.models import (
    ACTIVITY_EVENT_NAME,
    Event,
    Lease,
    QueueItem,
    QueueType,
    WorkflowInstance,
    WorkflowStatus,
)
from wfe_core.protocols import (
    ArtifactStore,
    Clock,
    LockProvider,
    PersistenceProvider,
    QueueProvider,
    SearchIndex,
)

log = logging.getLogger("wfe.host")

POLLER_LOCK = "wfe:poller"
PURGER_LOCK = "wfe:purger"
EVENT_RETRY = timedelta(milliseconds=250)


class Consumers:
    def __init__(
        self,
        *,
        persistence: PersistenceProvider,
        lock: LockProvider,
        queue: QueueProvider,
        search: SearchIndex | None,
        artifacts: ArtifactStore,
        runner: InstanceRunner,
        load: Callable[[str], Awaitable[WorkflowInstance]],
        timers: WakeupTimers,
        clock: Clock,
        options: HostOptions,
    ) -> None:
        self.persistence = persistence
        self.lock = lock
        self.queue = queue
        self.search = search
        self.artifacts = artifacts
        self.runner = runner
        self.load = load
        self.timers = timers
        self.clock = clock
        self.options = options
        self.event_slots = Slots(options.max_concurrent_events)
        """What events this host delivers at once: those off the queue and those it published itself."""
        self._index_errors: dict[str, int] = {}
        self._held: dict[str, Lease] = {}
        """The poller's and purger's leases, held past their scan to space scans out; released by ``stop``."""

    def tasks(self) -> list[Callable[[], Coroutine[Any, Any, None]]]:
        # Workflows share the runner's slots with the runs this host starts itself, so the host never advances
        # more than max_concurrent_workflows instances at once.
        loops: list[Callable[[], Coroutine[Any, Any, None]]] = [
            lambda: self._consume(QueueType.WORKFLOW, self.runner.slots, self.runner.process),
            lambda: self._consume(QueueType.EVENT, self.event_slots, self.process_event),
            self._poll,
        ]
        if self.search is not None:
            loops.append(lambda: self._consume(QueueType.INDEX, Slots(2), self._index))
        if self.options.retention is not None:
            loops.append(self._purge)
        return loops

    async def _consume(
        self, queue_type: QueueType, slots: Slots, handler: Callable[[str], Awaitable[None]]
    ) -> None:
        """Take items off the queue while a slot is free and hand each to ``handler`` in a task of its own."""
        while True:
            # On a full host the consumer waits in line with the new instances started here, and looks at the
            # queue once its turn comes, so neither starves the other; a turn it does not use passes on.
            held = await slots.wait_room()
            try:
                item = await self.queue.dequeue(queue_type, timeout=0.0 if held else 1.0)
            except Exception:
                if held:
                    slots.give()
                log.exception("dequeue from %s failed; retrying", queue_type.value)
                await asyncio.sleep(1.0)
                continue
            except BaseException:
                if held:
                    slots.give()
                raise
            if item is None:
                if held:
                    slots.give()
                elif not self.queue.is_dequeue_blocking:
                    await asyncio.sleep(self.options.idle_time)
                continue
            if not held:
                # The slot seen free may have been taken meanwhile (by a run this host started): wait for
                # another. Cancelled here (the host stops), the item is not acked and comes back after the
                # visibility timeout.
                await slots.take()
            self.runner.spawn(self._handle(item, handler, slots))

    async def _handle(self, item: QueueItem, handler: Callable[[str], Awaitable[None]], slots: Slots) -> None:
        try:
            await handler(item.item_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("processing %s %s failed; it will be retried", item.queue.value, item.item_id)
        else:
            try:
                await self.queue.ack(item)
            except Exception:
                log.warning("ack of %s %s failed; it may be delivered again", item.queue.value, item.item_id)
        finally:
            slots.give()

    # -- events ----------------------------------------------------------------------------------------

    def deliver_published(self, event: Event) -> bool:
        """Deliver ``event``, which this host has just stored and queued nowhere, here and now, when an event
        slot is free (True); False when none is: the caller queues it. A failed delivery is queued again after
        ``EVENT_RETRY``; a crash leaves the event unprocessed, for the poller."""
        if not self.event_slots.try_take():
            return False
        self.runner.spawn(self._deliver_published(event))
        return True

    async def _deliver_published(self, event: Event) -> None:
        try:
            await self.process_event(event.id, event)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("processing event %s failed; it will be retried", event.id)
            self.timers.schedule(QueueType.EVENT.value, event.id, self.clock.now() + EVENT_RETRY)
        finally:
            self.event_slots.give()

    async def process_event(self, event_id: str, event: Event | None = None) -> None:
        """Deliver the event to every instance waiting for it, then mark it processed; ``event`` is the event
        itself when this host has just stored it (not read again)."""
        lease = await self.lock.acquire(f"evt:{event_id}", self.options.lock_ttl)
        if lease is None:
            return
        try:
            if event is None:
                try:
                    event = await self.persistence.get_event(event_id)
                except EventNotFoundError:
                    return
            if event.is_processed:
                return
            if event.event_time > self.clock.now():
                self.timers.schedule(QueueType.EVENT.value, event_id, event.event_time)
                return
            if event.event_name == ACTIVITY_RESULT_EVENT_NAME:
                done = await self._deliver_activity_result(event.event_key, event_id)
            else:
                done = True
                subscriptions = await self.persistence.get_subscriptions(
                    event.event_name, event.event_key, event.event_time
                )
                for subscription in subscriptions:
                    if subscription.event_name == ACTIVITY_EVENT_NAME:
                        continue
                    chosen = await self.runner.delivery.choose_event(subscription, event)
                    if chosen is not None and not await self.runner.delivery.deliver(subscription, chosen):
                        done = False
            if done:
                await self.persistence.mark_event_processed(event_id)
            else:
                self.timers.schedule(QueueType.EVENT.value, event_id, self.clock.now() + EVENT_RETRY)
        finally:
            await self.lock.release(lease)

    async def _deliver_activity_result(self, subscription_id: str, event_id: str) -> bool:
        try:
            subscription = await self.persistence.get_subscription(subscription_id)
        except SubscriptionNotFoundError:
            return True
        event = await self.persistence.get_event(event_id)
        return await self.runner.delivery.deliver(subscription, event)

    # -- index -------------------------------------------------------------------------------------------

    async def _index(self, workflow_id: str) -> None:
        assert self.search is not None
        try:
            instance = await self.load(workflow_id)  # typed data, so the index knows the data's type
        except WorkflowNotFoundError:
            return
        try:
            await self.search.index_workflow(instance)
            self._index_errors.pop(workflow_id, None)
        except Exception as exc:
            errors = self._index_errors.get(workflow_id, 0) + 1
            self._index_errors[workflow_id] = errors
            if errors > self.options.index_retry_max:
                log.error("giving up indexing %s after %d errors: %s", workflow_id, errors, exc)
                self._index_errors.pop(workflow_id, None)
                return
            delay = timedelta(seconds=min(60.0, 0.1 * 2**errors))
            log.warning("indexing %s failed (%s); retry %d in %s", workflow_id, exc, errors, delay)
            self.timers.schedule(QueueType.INDEX.value, workflow_id, self.clock.now() + delay)

    # -- safety nets -------------------------------------------------------------------------------------

    async def _poll(self) -> None:
        interval = self.options.poll_interval.total_seconds()
        while True:
            try:
                await self.poll_once()
            except Exception:
                log.exception("poll failed; next poll in %ss", interval)
            await asyncio.sleep(interval)

    async def poll_once(self) -> None:
        """Queue every runnable instance and every unprocessed due event (what a lost wake-up left behind).

        Not an instance a run here advanced while the store was read: the read may predate its run's last
        write, and a run that ends meanwhile left it as it should be (or, when it failed, runnable for the next
        poll)."""
        lease = await self.lock.acquire(POLLER_LOCK, self.options.poll_interval * 0.9)
        if lease is None:
            return  # another host polled within this interval; the lease lapses by itself
        self._held[POLLER_LOCK] = lease
        now = self.clock.now()
        busy = self.runner.running_ids()
        for workflow_id in await self.persistence.get_runnable_instances(now):
            if workflow_id not in busy and not self.runner.is_running(workflow_id):
                await self.queue.enqueue(QueueType.WORKFLOW, workflow_id)
        for event_id in await self.persistence.get_runnable_events(now):
            await self.queue.enqueue(QueueType.EVENT, event_id)

    async def purge_artifacts(self) -> int:
        """Remove the artifacts of workflows no longer in the store (purged); return how many were removed."""
        owners = await self.artifacts.workflow_ids()
        if not owners:
            return 0
        kept: set[str] = set()
        for start in range(0, len(owners), 500):
            kept.update(
                instance.id for instance in await self.persistence.get_workflows(owners[start : start + 500])
            )
        removed = 0
        for workflow_id in owners:
            if workflow_id not in kept:
                removed += await self.artifacts.delete_workflow(workflow_id)
        return removed

    async def release_held(self) -> None:
        """Give back the poller's and purger's leases (a graceful stop), so the next host scans at once."""
        held, self._held = self._held, {}
        for lease in held.values():
            try:
                await self.lock.release(lease)
            except Exception:
                log.warning("could not release the lease on %s; it lapses by itself", lease.resource)

    async def _purge(self) -> None:
        assert self.options.retention is not None
        while True:
            try:
                lease = await self.lock.acquire(PURGER_LOCK, self.options.purge_interval * 0.9)
                if lease is not None:
                    self._held[PURGER_LOCK] = lease
                    cutoff = self.clock.now() - self.options.retention
                    for status in (WorkflowStatus.COMPLETE, WorkflowStatus.TERMINATED):
                        await self.persistence.purge_workflows(status, cutoff)
                    await self.persistence.purge_events(cutoff)
                    await self.purge_artifacts()
            except Exception:
                log.exception("purge failed")
            await asyncio.sleep(self.options.purge_interval.total_seconds())
