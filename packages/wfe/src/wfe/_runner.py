"""Advancing instances under their lease: passes, persistence, wake-ups, event delivery and control requests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from wfe._options import HostOptions
from wfe._registry import WorkflowRegistry
from wfe._slots import Slots
from wfe._timers import WakeupTimers
from wfe_core import transitions
from wfe_core.definition import WorkflowDefinition
from wfe_core.errors import HostError, LeaseLostError, ValueRefusedError, WorkflowNotFoundError
from wfe_core.executor import RETRIES_EXHAUSTED, PassState, WorkflowExecutor
from wfe_core.models import (
    Delivery,
    Event,
    EventSubscription,
    ExecutionError,
    Lease,
    QueueType,
    WorkflowInstance,
    WorkflowStatus,
    WorkflowSuspended,
    WorkflowTerminated,
)
from wfe_core.protocols import Clock, LockProvider, PersistenceProvider, QueueProvider
from wfe_core.step import CancellationSignal
from wfe_core.storable import doubtful_values

log = logging.getLogger("wfe.runner")

WorkflowHook = Callable[[str, WorkflowInstance], Awaitable[None]]


@dataclass
class LocalRun:
    """An instance this host is advancing right now, and what was asked of it meanwhile."""

    instance: WorkflowInstance | None = None
    pass_task: asyncio.Task[Any] | None = None
    """The task running this run's pass while it runs (a terminate cancels it)."""
    pass_cancelled: bool = False
    """A terminate cancelled ``pass_task``."""
    signal: CancellationSignal = field(default_factory=CancellationSignal)
    rerun: bool = False
    suspend: bool = False
    terminate: bool = False
    deliveries: list[Delivery] = field(default_factory=list)
    """Events the event consumer handed to this run to apply under its lease (each still unprocessed in the
    store, so the consumer delivers it again if this run cannot)."""
    lease_lost: bool = False
    lease_valid_until: float = 0.0
    """Event-loop time until which the lease is surely held: ttl after the last acquire or renewal was asked
    for. A host frozen past it (SIGSTOP, a long GC pause) finds it lapsed and writes nothing."""


class InstanceRunner:
    def __init__(
        self,
        *,
        persistence: PersistenceProvider,
        lock: LockProvider,
        queue: QueueProvider,
        registry: WorkflowRegistry,
        executor: WorkflowExecutor,
        clock: Clock,
        options: HostOptions,
        timers: WakeupTimers,
        publish: Callable[..., Awaitable[None]],
        workflow_hook: WorkflowHook,
        indexing: bool,
        pass_span: Callable[[WorkflowInstance], contextlib.AbstractContextManager[Any]] | None = None,
    ) -> None:
        self.persistence = persistence
        self.lock = lock
        self.queue = queue
        self.registry = registry
        self.executor = executor
        self.clock = clock
        self.options = options
        self.timers = timers
        self.publish = publish
        """``await publish(*events)``: hands lifecycle events to the hub, logging (not raising) its errors."""
        self.workflow_hook = workflow_hook
        self.indexing = indexing
        self.pass_span = pass_span
        self.runs: dict[str, LocalRun] = {}
        self.inflight: set[asyncio.Task[None]] = set()
        """Runs and queue deliveries in progress: the host's stop() waits for them."""
        self.stopping = False
        """Set by the host's stop(): runs in progress finish their pass but start no new one."""
        self.slots = Slots(options.max_concurrent_workflows)
        """The workflow slots: one taken by each queue item the workflow consumer handles and by each run
        started here (a new instance, or one an event was just delivered to)."""
        self._missing_attempts: dict[str, int] = {}

    def open(self) -> None:
        """Called as the host starts (again): runs may start, and every slot is free."""
        self.stopping = False
        self.slots = Slots(self.options.max_concurrent_workflows)

    async def drain(self, timeout: float) -> None:
        """Wait for every task started with ``spawn``, those they start meanwhile included; cancel what is
        still running after ``timeout`` seconds and wait for it to end."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.inflight:
            pending = set(self.inflight)
            remaining = deadline - loop.time()
            if remaining > 0:
                _, pending = await asyncio.wait(pending, timeout=remaining)
            if pending and loop.time() >= deadline:
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` as a task the host's stop() waits for."""
        task = asyncio.get_running_loop().create_task(work)
        self.inflight.add(task)
        task.add_done_callback(self.inflight.discard)

    # -- advancing -------------------------------------------------------------------------------------

    async def process(self, workflow_id: str) -> None:
        """Advance the instance as far as it can go now (the caller holds a workflow slot for it). If this
        host is already advancing it, ask that run to go round once more instead."""
        run = self.runs.get(workflow_id)
        if run is not None:
            run.rerun = True
            return
        run = LocalRun()
        self.runs[workflow_id] = run
        await self._drive(workflow_id, run, None)

    async def reserve_new(self, workflow_id: str) -> tuple[LocalRun, Lease] | None:
        """Take the lease of an instance about to be created here, so this host can run it straight away.

        None when this host has no free workflow slot (or is stopping, or the lease is taken): the instance
        then goes through the queue as usual. Holding the lease from before the instance exists means no other
        host can have written it, so the run needs neither a fence claim nor a load."""
        if not self._take_slot_for(workflow_id):
            return None
        try:
            taken = await self._acquire(workflow_id)
        except BaseException:
            self.slots.give()
            raise
        if taken is None or workflow_id in self.runs:
            # the lease is taken, or a queue delivery of the same id got here first (it will not get the lease)
            if taken is not None:
                await self._release(taken[0])
            self.slots.give()
            return None
        lease, valid_until = taken
        run = self.runs[workflow_id] = LocalRun(lease_valid_until=valid_until)
        return run, lease

    async def cancel_reservation(self, workflow_id: str, lease: Lease) -> None:
        """The instance was not created after all: give the slot and the lease back."""
        self.runs.pop(workflow_id, None)
        self.slots.give()
        await self._release(lease)

    async def run_held(self, instance: WorkflowInstance, run: LocalRun, lease: Lease) -> None:
        """Advance an instance this host already holds the lease and a slot of, with the instance in hand: one
        it just created (``reserve_new``) or one an event was just delivered to. Gives the slot back."""
        try:
            await self._drive(instance.id, run, (instance, lease))
        except Exception:
            # it stays RUNNABLE in the store, so the runnable poller queues it again
            log.exception("running workflow %s failed; the poller will retry it", instance.id)
        finally:
            self.slots.give()

    async def _drive(
        self, workflow_id: str, run: LocalRun, held: tuple[WorkflowInstance, Lease] | None
    ) -> None:
        try:
            while True:
                run.rerun = False
                if not await self._advance(workflow_id, run, held):
                    break  # another host holds it: it carries on, and the event consumer retries its events
                held = None
                if not (run.rerun or run.deliveries):
                    break
        finally:
            # Deliveries not applied (lease lost, or the lock is elsewhere): their events are still unprocessed
            # in the store, and the event consumer, which retries them, delivers them itself.
            del self.runs[workflow_id]

    async def _advance(
        self, workflow_id: str, run: LocalRun, held: tuple[WorkflowInstance, Lease] | None = None
    ) -> bool:
        """One stretch of passes under a fresh lease (or the one ``held`` with the instance it was taken for);
        False when another host holds the instance."""
        if held is None:
            taken = await self._acquire(workflow_id)
            if taken is None:
                return False  # another host advances it; whatever changes later re-queues it
            lease, run.lease_valid_until = taken
            run.lease_lost = False
        else:
            instance, lease = held
        renewal = _Renewal(self, lease, run)
        try:
            if held is None:
                try:
                    # Claim the fence before reading, so a write still in flight from a host that lost this
                    # lease is either read here or refused.
                    await self.persistence.claim_workflow(workflow_id, lease.fence)
                    instance = await self.persistence.get_workflow(workflow_id)
                except WorkflowNotFoundError:
                    run.deliveries.clear()  # nothing left to deliver to
                    return True
            run.instance = instance
            await self._passes(instance, run, lease)
            return True
        finally:
            await renewal.stop()
            await self._release(lease)

    async def _acquire(self, workflow_id: str) -> tuple[Lease, float] | None:
        """The instance's lease and the event-loop time until which it is surely held (ttl after asking)."""
        ttl = self.options.lock_ttl
        asked = asyncio.get_running_loop().time()
        lease = await self.lock.acquire(workflow_id, ttl)
        return None if lease is None else (lease, asked + ttl.total_seconds())

    def _take_slot_for(self, workflow_id: str) -> bool:
        """Take a slot for a run of the instance started here; False (nothing taken) when stopping, when it
        runs here already or when every slot is busy."""
        return not self.stopping and workflow_id not in self.runs and self.slots.try_take()

    async def _release(self, lease: Lease) -> None:
        try:
            await self.lock.release(lease)
        except Exception:
            log.warning(
                "could not release the lease on %s; it lapses after %s", lease.resource, self.options.lock_ttl
            )

    async def _renew(self, lease: Lease, run: LocalRun) -> bool:
        """Renew the lease once; False (and the run marked) when it was lost."""
        asked = asyncio.get_running_loop().time()
        try:
            renewed = await self.lock.renew(lease, self.options.lock_ttl)
        except Exception:
            renewed = None
        if renewed is None or asked > run.lease_valid_until:
            run.lease_lost = True
            log.error("lease on %s lost; this host stops writing it", lease.resource)
            return False
        run.lease_valid_until = asked + self.options.lock_ttl.total_seconds()
        return True

    def _check_lease(self, run: LocalRun, lease: Lease) -> None:
        """Refuse to write once the lease may have lapsed; fencing in the store covers the rest."""
        if run.lease_lost or asyncio.get_running_loop().time() >= run.lease_valid_until:
            run.lease_lost = True
            raise LeaseLostError(
                lease.resource, "this host held it too long without renewal; nothing written"
            )

    async def _passes(self, instance: WorkflowInstance, run: LocalRun, lease: Lease) -> None:
        definition: WorkflowDefinition | None = None
        passes = 0
        while True:
            if passes >= self.options.max_passes_per_lease:
                # every slot busy: queued instances may be waiting for one
                if instance.status is WorkflowStatus.RUNNABLE and self.slots.full:
                    await self.queue.enqueue(QueueType.WORKFLOW, instance.id)  # let others have a turn
                    return
                # A free slot here takes whatever else is queued, so going on keeps the loaded instance
                # (reloading it would cost its whole history) without keeping anyone waiting.
                passes = 0
            passes += 1
            if run.deliveries:
                await self._apply_deliveries(instance, run, lease)
            if run.terminate or run.suspend:
                await self._apply_requests(instance, run, lease)
            if instance.status is not WorkflowStatus.RUNNABLE:
                return
            if instance.next_execution is None or instance.next_execution > self.clock.now():
                break
            if self.stopping:
                return  # the poller of the next host to start picks it up
            if definition is None:
                definition = self.registry.find(instance.workflow_definition_id, instance.version)
                if definition is None:
                    await self._definition_missing(instance, lease)
                    return
                self._missing_attempts.pop(instance.id, None)
                instance.data = definition.load_data(instance.data)
            state = await self._execute(instance, definition, run, lease)
            if state is None:
                return
            try:
                await self._persist_pass(instance, state, lease, run)
            except ValueRefusedError as exc:
                instance = await self._refused(instance, definition, state, exc, run, lease)
        if instance.status is WorkflowStatus.RUNNABLE and instance.next_execution is not None:
            self.timers.schedule(QueueType.WORKFLOW.value, instance.id, instance.next_execution)

    async def _execute(
        self, instance: WorkflowInstance, definition: WorkflowDefinition, run: LocalRun, lease: Lease
    ) -> PassState | None:
        """Run one pass in this task; None when a terminate cancelled it (the instance is then terminated).

        No task of its own (one per pass cost more than the rest of the runner's bookkeeping): a terminate
        cancels this task while the pass runs (``run.pass_task``), and the cancellation is taken back here
        when it was the terminate's alone. The lease is checked again as each step body starts, not only
        before writing: a host thawed after a freeze past its lease would otherwise start steps the new
        holder already ran (its write would be refused, but the steps' effects would happen twice)."""
        current = asyncio.current_task()
        assert current is not None  # runs are tasks
        with self.pass_span(instance) if self.pass_span is not None else contextlib.nullcontext():
            run.pass_task, run.pass_cancelled = current, False
            try:
                state = await self.executor.execute(
                    instance,
                    definition,
                    cancellation=run.signal,
                    before_step=lambda: self._check_lease(run, lease),
                )
            except asyncio.CancelledError:
                # A cancel lands where the pass awaits, so inside execute(): run.pass_task is None elsewhere.
                if not run.pass_cancelled or current.uncancel() > 0:
                    raise  # the host is stopping (perhaps as well): the instance stays as last written
                state = None
            else:
                if run.pass_cancelled:
                    current.uncancel()  # a step swallowed the terminate's cancel: the pass ended normally
            finally:
                run.pass_task = None
        if state is None:
            await self._terminate_after_cancel(instance.id, run, lease)
        return state

    async def _persist_pass(
        self, instance: WorkflowInstance, state: PassState, lease: Lease, run: LocalRun
    ) -> None:
        self._check_lease(run, lease)
        now = self.clock.now()
        notice = _parent_notice(instance, state, now)
        # With the subscriptions, the store delivers in the same transaction any event published before them
        # (the woken pointers make the instance due now, and the next pass goes on); a sub-workflow's news
        # for its parent is stored in it too.
        await self.persistence.persist_workflow(
            instance,
            pointers=list(state.changed.values()),
            subscriptions=state.subscriptions,
            events=[] if notice is None else [notice],
            now=now,
            fence=lease.fence,
        )
        if state.errors:
            await self.persistence.persist_errors(state.errors)
        if state.events:
            await self.publish(*state.events)
        await self.workflow_hook("execute", instance)
        if state.completed:
            await self.workflow_hook("post", instance)
        if notice is not None:
            await self.queue.enqueue(QueueType.EVENT, notice.id)
        if self.indexing:
            await self.queue.enqueue(QueueType.INDEX, instance.id)

    async def _refused(
        self,
        instance: WorkflowInstance,
        definition: WorkflowDefinition,
        state: PassState,
        exc: ValueRefusedError,
        run: LocalRun,
        lease: Lease,
    ) -> WorkflowInstance:
        """The store refused what the pass produced (its content, so writing it again fails again): count it
        as a failure of the steps that ran, so their error behaviour applies and bounds the runs. Returns the
        instance as stored, with those failures applied."""
        where = doubtful_values(instance, list(state.changed.values())) or ["a value"]
        fresh = await self.persistence.get_workflow(instance.id)
        fresh.data = definition.load_data(fresh.data)
        stored = {p.id for p in fresh.execution_pointers}
        failures: dict[str, BaseException] = {
            pointer_id: ValueRefusedError(
                f"step '{instance.pointer(pointer_id).step_name}' produced {', '.join(where)}, which the store"
                f" refused: {exc}"
            )
            for pointer_id in state.ran
            if pointer_id in stored
        }
        if not failures:
            raise exc
        failed = self.executor.fail_steps(fresh, definition, failures)
        run.instance = fresh
        await self._persist_pass(fresh, failed, lease, run)
        return fresh

    async def _apply_deliveries(self, instance: WorkflowInstance, run: LocalRun, lease: Lease) -> None:
        deliveries = list(run.deliveries)
        self._check_lease(run, lease)
        await self.persistence.persist_workflow(
            instance, pointers=[], deliveries=deliveries, now=self.clock.now(), fence=lease.fence
        )
        del run.deliveries[: len(deliveries)]

    async def _apply_requests(self, instance: WorkflowInstance, run: LocalRun, lease: Lease) -> None:
        now = self.clock.now()
        transition = (transitions.terminate(instance, now) if run.terminate else None) or (
            transitions.suspend(instance, now) if run.suspend else None
        )
        run.terminate = run.suspend = False
        if transition is None:
            return
        self._check_lease(run, lease)
        await self._committed(instance, transition, lease)

    async def _committed(
        self, instance: WorkflowInstance, transition: transitions.Transition, lease: Lease
    ) -> None:
        """Store a status change made under ``lease`` and announce it: its lifecycle event, the parent's
        notice of a terminated sub-workflow (stored in the same write) and the termination of its children."""
        terminated = instance.status is WorkflowStatus.TERMINATED
        notice = (
            transitions.ended_notice(instance, self.clock.now(), transitions.TERMINATED_ERROR)
            if terminated
            else None
        )
        await self.persistence.persist_workflow(
            instance,
            pointers=transition.changed,
            events=[] if notice is None else [notice],
            fence=lease.fence,
        )
        await self.publish(transition.event)
        if notice is not None:
            await self.queue.enqueue(QueueType.EVENT, notice.id)
        if terminated:
            for child_id in transitions.child_ids(instance):
                self.spawn(self._terminate_child(child_id))
        if self.indexing:
            await self.queue.enqueue(QueueType.INDEX, instance.id)

    async def _terminate_child(self, child_id: str) -> None:
        try:
            await self.terminate(child_id)
        except WorkflowNotFoundError:
            pass
        except Exception:
            log.exception(
                "could not terminate sub-workflow %s with its parent; terminate it by hand", child_id
            )

    async def _terminate_after_cancel(self, workflow_id: str, run: LocalRun, lease: Lease) -> None:
        """The pass was cancelled to terminate the workflow: drop its partial results and terminate."""
        instance = await self.persistence.get_workflow(workflow_id)
        run.instance = instance
        await self._apply_requests(instance, run, lease)

    async def _definition_missing(self, instance: WorkflowInstance, lease: Lease) -> None:
        attempts = self._missing_attempts.get(instance.id, 0)
        self._missing_attempts[instance.id] = attempts + 1
        delay = min(
            self.options.missing_definition_backoff * (2**attempts),
            self.options.missing_definition_backoff_max,
        )
        now = self.clock.now()
        instance.next_execution = now + delay
        await self.persistence.persist_workflow(instance, pointers=[], fence=lease.fence)
        await self.persistence.persist_errors(
            [
                ExecutionError(
                    workflow_id=instance.id,
                    error_time=now,
                    message=f"WorkflowNotRegisteredError: workflow '{instance.workflow_definition_id}' version "
                    f"{instance.version} is not registered on this host; retrying in {delay}",
                )
            ]
        )
        self.timers.schedule(QueueType.WORKFLOW.value, instance.id, instance.next_execution)

    # -- control requests from the host's verbs --------------------------------------------------------

    def request(self, workflow_id: str, *, suspend: bool = False, terminate: bool = False) -> LocalRun | None:
        """Record a suspend/terminate for a run in progress here; a terminate also cancels its running steps."""
        run = self.runs.get(workflow_id)
        if run is None:
            return None
        run.suspend = run.suspend or suspend
        run.terminate = run.terminate or terminate
        run.rerun = True
        if terminate:
            run.signal.cancel()
            if run.pass_task is not None and not run.pass_cancelled:
                run.pass_cancelled = True
                run.pass_task.cancel()
        return run

    async def terminate(self, workflow_id: str) -> bool:
        """Terminate the instance (by id): through its run when it runs here, else under its lease. True when
        accepted; its running sub-workflows are terminated with it."""
        if self.request(workflow_id, terminate=True) is not None:
            return True
        return await self.change_status(workflow_id, transitions.Action.TERMINATE)

    async def change_status(self, workflow_id: str, action: transitions.Action) -> bool:
        """Apply ``action`` to an instance no run here advances, under its lease (waiting up to the lease's
        ttl for another host to let go of it). True when the instance was in a status it applies to."""
        lease = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.lock_ttl.total_seconds() + 5
        while lease is None:
            if workflow_id in self.runs and action is not transitions.Action.RESUME:
                self.request(
                    workflow_id,
                    suspend=action is transitions.Action.SUSPEND,
                    terminate=action is transitions.Action.TERMINATE,
                )
                return True
            lease = await self.lock.acquire(workflow_id, self.options.lock_ttl)
            if lease is None:
                if loop.time() > deadline:
                    raise HostError(f"could not {action} {workflow_id}: another host holds it; try again")
                await asyncio.sleep(0.05)
        try:
            await self.persistence.claim_workflow(workflow_id, lease.fence)
            instance = await self.persistence.get_workflow(workflow_id)
            transition = transitions.apply(action, instance, self.clock.now())
            if transition is None:
                return False
            await self._committed(instance, transition, lease)
        finally:
            await self._release(lease)
        if action is transitions.Action.RESUME:
            await self.queue.enqueue(QueueType.WORKFLOW, workflow_id)
        return True

    # -- events ----------------------------------------------------------------------------------------

    async def choose_event(self, subscription: EventSubscription) -> Event | None:
        """The oldest event due now that matches the subscription and this instance has not consumed yet."""
        ids = await self.persistence.get_events(
            subscription.event_name, subscription.event_key, subscription.subscribe_as_of
        )
        if not ids:
            return None
        consumed = await self.persistence.get_consumed_event_ids(
            subscription.workflow_id, subscription.event_name, subscription.event_key
        )
        now = self.clock.now()
        for event_id in ids:
            if event_id in consumed:
                continue
            event = await self.persistence.get_event(event_id)
            if event.event_time <= now:
                return event
        return None

    async def deliver(self, subscription: EventSubscription, event: Event) -> bool:
        """Deliver ``event`` to ``subscription``. False when it is not applied yet (another host holds the
        instance, or a run here applies it after its pass): the caller checks again later."""
        delivery = Delivery(subscription_id=subscription.id, event_id=event.id)
        run = self.runs.get(subscription.workflow_id)
        if run is not None:
            # The run applies it after its pass. Report "not yet" so the event consumer checks again later:
            # if the run failed (lost its lease), the retry delivers the event itself.
            if all(queued.subscription_id != subscription.id for queued in run.deliveries):
                run.deliveries.append(delivery)
            run.rerun = True
            return False
        taken = await self._acquire(subscription.workflow_id)
        if taken is None:
            return False
        lease, valid_until = taken
        carried_on: LocalRun | None = None
        try:
            try:
                await self.persistence.claim_workflow(subscription.workflow_id, lease.fence)
                instance = await self.persistence.get_workflow(subscription.workflow_id)
            except WorkflowNotFoundError:
                await self.persistence.terminate_subscription(subscription.id)
                return True
            # One transaction: the pointer woken, the subscription closed, the event recorded as consumed.
            woke = bool(
                await self.persistence.persist_workflow(
                    instance, pointers=[], deliveries=[delivery], now=self.clock.now(), fence=lease.fence
                )
            )
            if woke and instance.status is WorkflowStatus.RUNNABLE and self._take_slot_for(instance.id):
                # Carry on under this lease with the instance in hand: no release, queue hop and reload.
                carried_on = self.runs[instance.id] = LocalRun(
                    instance=instance, lease_valid_until=valid_until
                )
        finally:
            if carried_on is None:
                await self.lock.release(lease)
        if carried_on is not None:
            self.spawn(self.run_held(instance, carried_on, lease))
        elif woke and instance.status is WorkflowStatus.RUNNABLE:
            await self.queue.enqueue(QueueType.WORKFLOW, instance.id)
        return True


def _parent_notice(instance: WorkflowInstance, state: PassState, now: datetime) -> Event | None:
    """The notice for the parent of a sub-workflow that this pass ended (completed, or terminated or
    suspended by a failed step); None when it has no parent or did not end."""
    if instance.parent_workflow_id is None:
        return None
    failure = state.errors[-1].message if state.errors else ""
    if instance.status is WorkflowStatus.COMPLETE and state.completed:
        return transitions.ended_notice(instance, now)
    if instance.status is WorkflowStatus.TERMINATED and any(
        isinstance(e, WorkflowTerminated) for e in state.events
    ):
        return transitions.ended_notice(instance, now, failure)
    if instance.status is WorkflowStatus.SUSPENDED and any(
        isinstance(e, WorkflowSuspended) for e in state.events
    ):
        return transitions.ended_notice(instance, now, failure or "step failed")
    return None


class _Renewal:
    """Renews a lease every third of its ttl while a run holds it.

    A timer, not a task per run: most runs end long before the first renewal, and a task created and
    cancelled for each of them costs more than the run's own bookkeeping."""

    def __init__(self, runner: InstanceRunner, lease: Lease, run: LocalRun) -> None:
        self.runner, self.lease, self.run = runner, lease, run
        self.loop = asyncio.get_running_loop()
        self.interval = runner.options.lock_ttl.total_seconds() / 3
        self.task: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = self.loop.call_later(self.interval, self._fire)

    def _fire(self) -> None:
        self.timer = None
        self.task = self.loop.create_task(self._renew())

    async def _renew(self) -> None:
        if await self.runner._renew(self.lease, self.run):
            self.timer = self.loop.call_later(self.interval, self._fire)

    async def stop(self) -> None:
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


__all__ = ["RETRIES_EXHAUSTED", "InstanceRunner", "LocalRun"]
