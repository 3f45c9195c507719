"""WorkflowHost: registers definitions, starts and steers instances, and runs the background services."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from wfe._activities import ActivityVerbs
from wfe._consumers import Consumers
from wfe._fork import ForkVerbs
from wfe._lifecycle import LifecycleDispatcher
from wfe._lock_family import check_lock_family
from wfe._options import HostOptions
from wfe._otel import Tracing
from wfe._queues import QueueGate, QueueOptions, slot_store_of
from wfe._reading import ReadingVerbs
from wfe._registry import WorkflowRegistry, as_definition
from wfe._runner import HostHooks, InstanceRunner
from wfe._schedules import ScheduleVerbs
from wfe._timers import WakeupTimers
from wfe_core.clock import SystemClock
from wfe_core.data_limits import check_data
from wfe_core.definition import WorkflowDefinition
from wfe_core.errors import HostError, WorkflowNotFoundError
from wfe_core.executor import StepMiddleware, WorkflowExecutor
from wfe_core.lease_owner import LeaseOwner
from wfe_core.models import (
    Event,
    ExecutionPointer,
    LifecycleEvent,
    LifecycleEventBase,
    QueueType,
    WorkflowInstance,
    WorkflowStarted,
    WorkflowStatus,
    new_id,
)
from wfe_core.models.trusted import trusted
from wfe_core.protocols import (
    ArtifactStore,
    Clock,
    LeaseTakeover,
    LifecycleCallback,
    LifecycleHub,
    LockProvider,
    PersistenceProvider,
    QueueProvider,
    ScheduleStore,
    SearchIndex,
)
from wfe_core.step import LogSink
from wfe_core.transitions import ENDED, Action

log = logging.getLogger("wfe.host")

WorkflowMiddleware = Callable[[WorkflowInstance], Awaitable[None] | None]
Phase = Literal["pre", "execute", "post"]


class WorkflowHost(ReadingVerbs, ActivityVerbs, ScheduleVerbs, ForkVerbs):
    """Runs workflows. Build one with ``WorkflowHostBuilder``; use it as ``async with host:``."""

    def __init__(
        self,
        *,
        persistence: PersistenceProvider,
        lock: LockProvider,
        queue: QueueProvider,
        search: SearchIndex | None,
        lifecycle_hub: LifecycleHub,
        clock: Clock | None = None,
        options: HostOptions | None = None,
        log_sink: LogSink | None = None,
        step_middleware: Sequence[StepMiddleware] = (),
        workflow_middleware: Sequence[tuple[Phase, WorkflowMiddleware]] = (),
        tracing: Tracing | None = None,
        artifact_store: ArtifactStore | None = None,
        queues: Sequence[QueueOptions] = (),
    ) -> None:
        self.persistence = persistence
        if artifact_store is None:
            from wfe._artifact_store import LocalArtifactStore

            artifact_store = LocalArtifactStore.in_temporary_folder()
        self.artifact_store: ArtifactStore = artifact_store
        self.lock = lock
        self.queue = queue
        self.search_index = search
        self.lifecycle_hub = lifecycle_hub
        self.clock: Clock = clock or SystemClock()
        self.options = options or HostOptions()
        self.registry = WorkflowRegistry()
        self._workflow_middleware: list[tuple[Phase, WorkflowMiddleware]] = list(workflow_middleware)
        self._dispatcher = LifecycleDispatcher()
        self._timers = WakeupTimers(self.clock, self._wake)
        self._gate = QueueGate(
            {q.name: q for q in queues},
            slot_store_of(queue, persistence),
            self.clock,
            self.options,
            lambda workflow_id, at: self._timers.schedule(QueueType.WORKFLOW.value, workflow_id, at),
        )
        middleware = list(step_middleware)
        if tracing is not None:
            middleware.insert(0, tracing.step_middleware)  # outermost: the span covers the other middleware
        self.executor = WorkflowExecutor(
            clock=self.clock, step_middleware=middleware, log_sink=log_sink, services=self
        )
        self._runner = InstanceRunner(
            persistence=persistence,
            lock=lock,
            queue=queue,
            registry=self.registry,
            executor=self.executor,
            clock=self.clock,
            options=self.options,
            timers=self._timers,
            gate=self._gate,
            hooks=HostHooks(
                publish=self._publish,
                workflow_hook=self._run_middleware,
                indexing=search is not None,
                pass_span=tracing.pass_span if tracing is not None else None,
            ),
        )
        self._consumers = Consumers(
            persistence=persistence,
            lock=lock,
            queue=queue,
            search=search,
            artifacts=artifact_store,
            runner=self._runner,
            load=self._load,
            timers=self._timers,
            clock=self.clock,
            options=self.options,
        )
        self._loops: list[asyncio.Task[None]] = []
        self._schedules_changed = asyncio.Event()
        self._started = False
        self._hub_attached = False

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
                self.lifecycle_hub.subscribe(self._dispatcher.dispatch)
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

    async def __aenter__(self) -> WorkflowHost:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- definitions --------------------------------------------------------------------------------------

    def register_workflow(self, workflow: Any, *, replace: bool = False) -> WorkflowDefinition:
        """Register a definition (or a compiled YAML workflow, which carries one as ``.definition``)."""
        definition = as_definition(workflow)
        self.registry.register(definition, replace=replace)
        return definition

    # -- starting and steering ----------------------------------------------------------------------------

    async def start_workflow(
        self,
        definition_id: str,
        version: int | None = None,
        data: Any = None,
        *,
        workflow_id: str | None = None,
        name: str | None = None,
        reference: str | None = None,
        queue: str | None = None,
        priority: int = 0,
    ) -> str:
        """Store an instance of the definition (latest version when None) and return its id. A started host
        with a free slot runs it at once (``start_locally``); otherwise it is queued for any host.

        ``workflow_id`` makes the start idempotent: the instance gets that id, and a start with an id that
        exists (whatever its status, started by any host on the store) returns it and creates nothing.
        ``name`` is the instance's human name instead of ``{definition}-{N}``; names are unique per store
        (``WorkflowNameTakenError`` names the instance that has it) and every verb taking an id takes it.

        ``queue`` names a queue with limits (``WorkflowHostBuilder().add_queue``) the instance runs in: each run
        of it waits for a slot of the queue; ``priority`` orders its queue's waiters (lower first) when the
        queue has ``priority=True``."""
        self._gate.check(queue)
        if not isinstance(priority, int) or isinstance(priority, bool):
            raise TypeError(f"priority must be an int, not {type(priority).__name__}")
        for label, value in (("workflow_id", workflow_id), ("name", name)):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise TypeError(f"{label} must be a non-empty str or None, not {value!r}")
        return await self._create(
            definition_id,
            version,
            data,
            reference=reference,
            workflow_id=workflow_id or "",
            name=name or "",
            once=workflow_id is not None or name is not None,
            queue=queue,
            priority=priority,
        )

    async def start_child_workflow(
        self,
        definition_id: str,
        version: int | None,
        data: Any,
        *,
        parent_id: str,
        root_id: str,
        child_id: str,
    ) -> str:
        """Start a sub-workflow with a fixed id; starting the same child again returns it unchanged."""
        try:
            await self.persistence.get_workflow(child_id)
            return child_id
        except WorkflowNotFoundError:
            pass
        return await self._create(
            definition_id, version, data, workflow_id=child_id, parent_id=parent_id, root_id=root_id
        )

    async def _create(
        self,
        definition_id: str,
        version: int | None,
        data: Any,
        *,
        reference: str | None = None,
        workflow_id: str = "",
        name: str = "",
        once: bool = False,
        parent_id: str | None = None,
        root_id: str | None = None,
        pointers: list[ExecutionPointer] | None = None,
        forked_from: str | None = None,
        queue: str | None = None,
        priority: int = 0,
    ) -> str:
        definition = self.registry.get(definition_id, version)
        check_data(data)
        now = self.clock.now()
        if pointers is None:
            first = definition.step(0)
            pointers = [trusted(ExecutionPointer, step_id=0, step_name=first.name)]
        if reference is not None and not isinstance(reference, str):
            raise TypeError(f"reference must be a str or None, not {type(reference).__name__}")
        # built without validation: every field is the host's own value or checked above (the data by new_data)
        instance = trusted(
            WorkflowInstance,
            id=workflow_id,
            name=name,
            workflow_definition_id=definition.id,
            version=definition.version,
            description=definition.description,
            reference=reference,
            data=definition.new_data(data),
            next_execution=now,
            create_time=now,
            parent_workflow_id=parent_id,
            root_workflow_id=root_id,
            forked_from=forked_from,
            queue=queue,
            priority=priority,
            execution_pointers=pointers,
        )
        if once and workflow_id and await self._exists(workflow_id):
            return workflow_id  # the common repeat: no middleware, no lease; the store decides a race below
        await self._run_middleware("pre", instance, raise_errors=True)
        # With a free slot, this host takes the new instance's lease first and runs it at once, without the
        # queue's round trip and a reload; a crash before it finishes leaves it RUNNABLE for the poller.
        reserved = None
        if once:
            instance.id = instance.id or new_id()
        if self._started and self.options.start_locally:
            instance.id = instance.id or new_id()
            reserved = await self._runner.reserve_new(instance.id)
        try:
            if once:
                created = await self.persistence.create_workflow_once(instance)
            else:
                await self.persistence.create_workflow(instance)
                created = True
        except BaseException:
            if reserved is not None:
                await self._runner.cancel_reservation(instance.id, reserved[1])
            raise
        if not created:
            # an idempotent start of an instance that exists: nothing was written, nothing more to do
            if reserved is not None:
                await self._runner.cancel_reservation(instance.id, reserved[1])
            return instance.id
        try:
            await self._publish(WorkflowStarted.of(instance, now))
        finally:
            # it is stored: run it even when this call is cancelled, or the slot and the lease stay taken
            if reserved is not None:
                self._runner.spawn(self._runner.run_held(instance, *reserved))
        if reserved is None:
            await self.queue.enqueue(QueueType.WORKFLOW, instance.id)
        if self.search_index is not None:
            await self.queue.enqueue(QueueType.INDEX, instance.id)
        return instance.id

    async def _exists(self, workflow_id: str) -> bool:
        try:
            found = await self.persistence.get_workflow(workflow_id)
        except WorkflowNotFoundError:
            return False
        return found.id == workflow_id  # not an instance whose human name happens to be this id

    async def publish_event(
        self, event_name: str, event_key: str, event_data: Any = None, effective_date: datetime | None = None
    ) -> str:
        """Store an event and queue it; every instance waiting for this name and key (now or later, with a
        subscription as of its effective date or earlier) receives it once."""
        check_data(event_data, "event data")
        now = self.clock.now()
        event = Event(
            event_name=event_name,
            event_key=event_key,
            event_data=event_data,
            event_time=effective_date or now,
        )
        await self.persistence.create_event(event)
        await self.queue.enqueue(QueueType.EVENT, event.id)
        if event.event_time > now and self._started:
            self._timers.schedule(QueueType.EVENT.value, event.id, event.event_time)
        return event.id

    async def suspend_workflow(self, workflow_id: str) -> bool:
        """Suspend a runnable instance; True when accepted. A pass in progress finishes first. Its running
        sub-workflows carry on (suspend them by their own ids)."""
        instance = await self.persistence.get_workflow(workflow_id)
        run = self._runner.control.request(instance.id, suspend=True)
        if run is not None:
            current = run.instance or instance
            return current.status is WorkflowStatus.RUNNABLE
        return await self._runner.control.change_status(instance.id, Action.SUSPEND)

    async def resume_workflow(self, workflow_id: str) -> bool:
        """Resume a suspended instance (a step whose retries were exhausted runs again); True when accepted."""
        instance = await self.persistence.get_workflow(workflow_id)
        return await self._runner.control.change_status(instance.id, Action.RESUME)

    async def terminate_workflow(self, workflow_id: str) -> bool:
        """Terminate an instance that has not ended, and its running sub-workflows (recursively); running
        steps are cancelled. True when accepted."""
        instance = await self.persistence.get_workflow(workflow_id)
        if instance.status in ENDED:
            return False
        return await self._runner.control.terminate(instance.id)

    # -- lifecycle events ------------------------------------------------------------------------------------

    def on_lifecycle_event(self, callback: LifecycleCallback) -> None:
        """Call ``callback(event)`` (sync or async) for every lifecycle event, from every host on the hub."""
        self._dispatcher.callbacks.append(callback)

    def lifecycle_events(self) -> AsyncIterator[LifecycleEvent]:
        """An async iterator over lifecycle events from now on."""
        return self._dispatcher.events()

    async def _publish(self, *events: LifecycleEventBase) -> None:
        hub = self.lifecycle_hub
        for event in events:
            try:
                await hub.publish(event)  # type: ignore[arg-type]
            except Exception:
                log.exception("publishing %s failed", type(event).__name__)

    async def _run_middleware(
        self, phase: str, instance: WorkflowInstance, *, raise_errors: bool = False
    ) -> None:
        for when, middleware in self._workflow_middleware:
            if when != phase:
                continue
            try:
                result = middleware(instance)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                if raise_errors:
                    raise
                log.exception("%s-workflow middleware failed on %s", phase, instance.id)

    async def _wake(self, kind: str, item_id: str) -> None:
        await self.queue.enqueue(QueueType(kind), item_id)

    # -- scripts -------------------------------------------------------------------------------------------

    def run_sync(
        self,
        definition_id: str,
        data: Any = None,
        *,
        version: int | None = None,
        workflow_id: str | None = None,
        name: str | None = None,
        reference: str | None = None,
        timeout: timedelta = timedelta(minutes=5),
    ) -> WorkflowInstance:
        """Start the host, run one workflow to its end and stop: for scripts without an event loop. Refuses to
        run inside a running loop (use the async API there). ``workflow_id`` and ``name`` are those of
        ``start_workflow``: a script re-run with the same ``workflow_id`` waits for the first run's instance
        instead of starting another."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise HostError("run_sync() cannot run inside a running event loop: await the async API instead")

        async def main() -> WorkflowInstance:
            async with self:
                started = await self.start_workflow(
                    definition_id, version, data, workflow_id=workflow_id, name=name, reference=reference
                )
                return await self.wait_for_workflow(started, timeout)

        return asyncio.run(main())
