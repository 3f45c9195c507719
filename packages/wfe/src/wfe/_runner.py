"""Advancing instances under their lease: the runs and their passes.

Leases live in ``_leases``, event delivery in ``_delivery``, status changes asked for from outside in
``_control``, what each pass stores and announces (or records when it cannot) in ``_pass_records``, and the
runs of the instances the host starts itself in ``_reservations``; the host and its consumers use the runner
through ``process``, ``spawn_run``, ``spawn``, ``drain``, ``reservations``, ``delivery`` and ``control``."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from wfe._control import StatusControl
from wfe._delivery import EventDelivery
from wfe._leases import Leases
from wfe._local_run import LocalRun
from wfe._options import HostOptions
from wfe._pass_records import PassRecords
from wfe._queues import QueueGate
from wfe._registry import WorkflowRegistry
from wfe._reservations import Reservations
from wfe._slots import Slots
from wfe._timers import WakeupTimers
from wfe_core.definition import WorkflowDefinition
from wfe_core.errors import ValueRefusedError, WorkflowNotFoundError
from wfe_core.executor import PassState, WorkflowExecutor
from wfe_core.models import (
    Lease,
    QueueType,
    WorkflowInstance,
)
from wfe_core.models.status import WORKFLOW_RUNNABLE
from wfe_core.protocols import Clock, LockProvider, PersistenceProvider, QueueProvider

log = logging.getLogger("wfe.runner")
_NO_SPAN = contextlib.nullcontext()
"""What a pass runs in without tracing (one for every pass: a nullcontext keeps no state)."""

WorkflowHook = Callable[[str, WorkflowInstance], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class HostHooks:
    """What the runner hands back to the host as it advances instances."""

    publish: Callable[..., Awaitable[None]]
    """``await publish(*events)``: hands lifecycle events to the hub, logging (not raising) its errors."""
    workflow_hook: WorkflowHook | None
    """``await workflow_hook(phase, instance)``: the workflow middleware of a phase ("execute", "post"); None
    when the host has no workflow middleware (a pass then awaits nothing for it)."""
    indexing: bool
    """Whether the host has a search index, to which every written instance is queued."""
    pass_span: Callable[[WorkflowInstance], contextlib.AbstractContextManager[Any]] | None = None
    """A tracing span around each pass, when tracing is on."""


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
        hooks: HostHooks,
        gate: QueueGate,
    ) -> None:
        self.persistence = persistence
        self.leases = Leases(lock, options)
        self.queue = queue
        self.registry = registry
        self.executor = executor
        self.clock = clock
        self.options = options
        self.timers = timers
        self.hooks = hooks
        self.gate = gate
        """Queues with limits: a run of a queued instance begins only with a slot of its queue."""
        self.runs: dict[str, LocalRun] = {}
        self.inflight: set[asyncio.Task[None]] = set()
        """Runs and queue deliveries in progress: the host's stop() waits for them."""
        self._plain_context = contextvars.Context()
        """Where the done callbacks of spawned tasks run (``set.discard`` reads no context variable): without
        it, each callback took a copy of the spawning caller's context. The host's own, as a context cannot be
        entered by two threads at once (hosts in other threads' loops have theirs)."""
        self.stopping = False
        """Set by the host's stop(): runs in progress finish their pass but start no new one."""
        self.slots = Slots(options.max_concurrent_workflows)
        """The workflow slots: one taken by each queue item the workflow consumer handles and by each run
        started here (a new instance, or one an event was just delivered to)."""
        self.delivery = EventDelivery(self)
        """Event delivery: what the event consumer calls, and what applies the events handed to a run."""
        self.control = StatusControl(self)
        """Suspend, resume and terminate, for the host's verbs."""
        self.reservations = Reservations(self)
        """Runs of the new instances this host starts: their slots, places in line and leases."""
        self.records = PassRecords(self)
        """What each pass stores and announces, and what is recorded when a pass cannot be stored or run."""
        self.creator = self.leases.creates_with(persistence)
        """The persistence when it writes a new instance and its lease in one transaction with this lock."""
        self.releaser = self.leases.releases_with(persistence)
        """The persistence when it writes a run's last pass and releases its lease in one transaction."""

    def close(self) -> None:
        """Called as the host stops: runs in progress finish their pass but start no new one, and new instances
        waiting for a slot are queued for any host."""
        self.stopping = True
        self.slots.turn_away()

    def is_running(self, workflow_id: str) -> bool:
        """Whether a run here advances the instance now, or is about to: its creation and lease are being
        written in one transaction (``Reservations.create_reserved``), and its run registers once that write
        is back. The poller may read the instance as soon as it is committed, before then."""
        return workflow_id in self.runs or workflow_id in self.reservations.writing

    def running_ids(self) -> set[str]:
        """The ids ``is_running`` is true of now."""
        return {*self.runs, *self.reservations.writing}

    def open(self) -> None:
        """Called as the host starts (again): runs may start, and every slot is free."""
        self.stopping = False
        self.slots = Slots(self.options.max_concurrent_workflows)

    async def drain(self, timeout: float) -> None:
        """Wait for every task started with ``spawn`` or ``spawn_run``, those they start meanwhile included;
        cancel what is still running after ``timeout`` seconds and wait for it to end."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            # A run of spawn_run takes itself out as it ends, but one cancelled before it began never ran to.
            pending = {task for task in self.inflight if not task.done()}
            self.inflight.intersection_update(pending)
            if not pending:
                return
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
        task.add_done_callback(self.inflight.discard, context=self._plain_context)

    def spawn_run(self, instance: WorkflowInstance, run: LocalRun, lease: Lease) -> None:
        """Run, as a task ``stop()`` waits for, an instance this host holds the lease of and a slot (or a place
        in line) for. No done callback, as ``spawn`` adds: the run takes its task out of ``inflight`` itself as
        it ends (a callback cost each run a scheduled call and a copy of the context)."""
        task = asyncio.get_running_loop().create_task(self._run_held(instance, run, lease))
        self.inflight.add(task)

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

    async def _run_held(self, instance: WorkflowInstance, run: LocalRun, lease: Lease) -> None:
        """Advance an instance this host already holds the lease and a slot (or a place in line) of, with the
        instance in hand: one it just created (``reserve_new``, ``create_reserved``) or one an event was just
        delivered to. Gives the slot back. Runs as the task ``spawn_run`` made for it, and takes that task out of
        ``inflight`` as it ends."""
        try:
            if run.waiting and not await self.reservations.slot_in_time(instance, run, lease):
                return
            try:
                await self._drive(instance.id, run, (instance, lease))
            except Exception:
                # it stays RUNNABLE in the store, so the runnable poller queues it again
                log.exception("running workflow %s failed; the poller will retry it", instance.id)
            finally:
                self.slots.give()
        finally:
            self.inflight.discard(asyncio.current_task())

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
        run.released = False
        if held is None:
            taken = await self.leases.acquire(workflow_id)
            if taken is None:
                return False  # another host advances it; whatever changes later re-queues it
            lease, run.lease_valid_until = taken
            run.lease_lost = False
        else:
            instance, lease = held
        renewal = self.leases.renewal(lease, run)
        try:
            if held is None:
                try:
                    # Claim the fence before reading, so a write still in flight from a host that lost this
                    # lease is either read here or refused. A host frozen since it took the lease claims
                    # nothing with it: the claim is a write like any other.
                    with self.leases.fenced(run, lease):
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
            # the queue slot first: a waiter woken by it then finds the lease free sooner
            await self.gate.leave(workflow_id)
            if not run.released:
                await self.leases.release(lease)

    def take_slot_for(self, workflow_id: str) -> bool:
        """Take a slot for a run of the instance started here; False (nothing taken) when stopping, when it
        runs here already or when every slot is busy."""
        return not self.stopping and workflow_id not in self.runs and self.slots.try_take()

    async def _passes(self, instance: WorkflowInstance, run: LocalRun, lease: Lease) -> None:
        definition: WorkflowDefinition | None = None
        passes = 0
        # a time already past (when the last pass began): an instance due by then is due now, without a
        # clock read (the usual case: a pass leaves the next step due at its own start)
        earlier: datetime | None = None
        current = asyncio.current_task()  # each pass runs in this task (see _execute)
        assert current is not None  # runs are tasks
        check = partial(self.leases.check, run, lease)  # the lease check as each step starts
        max_passes = self.options.max_passes_per_lease
        while True:
            if passes >= max_passes:
                # every slot busy: queued instances may be waiting for one
                if instance.status is WORKFLOW_RUNNABLE and self.slots.full:
                    await self.queue.enqueue(QueueType.WORKFLOW, instance.id)  # let others have a turn
                    return
                # A free slot here takes whatever else is queued, so going on keeps the loaded instance
                # (reloading it would cost its whole history) without keeping anyone waiting.
                passes = 0
            passes += 1
            if run.deliveries:
                await self.delivery.apply(instance, run, lease)
            if run.terminate or run.suspend:
                await self.control.apply_requests(instance, run, lease)
            fields = instance.__dict__  # (two reads through pydantic's attribute hook for one)
            if fields["status"] is not WORKFLOW_RUNNABLE:
                return
            due = fields["next_execution"]
            if due is None or ((earlier is None or due > earlier) and due > self.clock.now()):
                break
            if self.stopping and run.passes_run:
                # A run begun before stop() runs its pass (stop waits for it, bounded by stop_timeout), so an
                # instance started just before the host stops gets as far as it would have; the next pass is
                # left to the poller of the next host to start.
                return
            if definition is None:
                if self.options.accept is not None and not self.options.accept(instance):
                    return  # another host's run: left as it is
                definition = self.registry.find(instance.workflow_definition_id, instance.version)
                if definition is None:
                    await self.records.definition_missing(instance, run, lease)
                    return
                self.records.missing_attempts.pop(instance.id, None)
                if not await self.gate.enter(instance):
                    return  # no slot of its queue now: it waits, runnable, and is woken to ask again
                instance.data = definition.load_data(instance.data)
            run.passes_run += 1
            state = await self._execute(instance, definition, run, lease, current, check)
            if state is None:
                return
            earlier = state.now
            try:
                await self.records.persist(instance, state, lease, run)
            except ValueRefusedError as exc:
                instance = await self.records.refused(instance, definition, state, exc, run, lease)
        if instance.status is WORKFLOW_RUNNABLE and instance.next_execution is not None:
            self.timers.schedule(QueueType.WORKFLOW.value, instance.id, instance.next_execution)

    async def _execute(
        self,
        instance: WorkflowInstance,
        definition: WorkflowDefinition,
        run: LocalRun,
        lease: Lease,
        current: asyncio.Task[Any],
        check: Callable[[], None],
    ) -> PassState | None:
        """Run one pass in this task; None when a terminate cancelled it (the instance is then terminated).

        No task of its own (one per pass cost more than the rest of the runner's bookkeeping): a terminate
        cancels this task while the pass runs (``run.pass_task``), and the cancellation is taken back here
        when it was the terminate's alone. The lease is checked again as each step body starts, not only
        before writing: a host thawed after a freeze past its lease would otherwise start steps the new
        holder already ran (its write would be refused, but the steps' effects would happen twice)."""
        span = self.hooks.pass_span
        with span(instance) if span is not None else _NO_SPAN:
            run.pass_task, run.pass_cancelled = current, False
            try:
                state = await self.executor.execute(
                    instance,
                    definition,
                    cancellation=run.signal,
                    before_step=check,
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
            await self.control.terminate_after_cancel(instance.id, run, lease)
        return state


__all__ = ["HostHooks", "InstanceRunner", "LocalRun"]
