"""WorkflowHost: registers definitions, starts and steers instances, and runs the background services."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any, Literal

from wfe._activities import ActivityVerbs
from wfe._consumers import Consumers
from wfe._fork import ForkVerbs
from wfe._lifecycle import LifecycleDispatcher
from wfe._options import HostOptions
from wfe._otel import Tracing
from wfe._queues import QueueGate, QueueOptions, slot_store_of
from wfe._reading import ReadingVerbs
from wfe._registry import WorkflowRegistry, as_definition
from wfe._runner import HostHooks, InstanceRunner
from wfe._schedules import ScheduleVerbs
from wfe._services import HostServices
from wfe._starting import StartVerbs
from wfe._steering import SteeringVerbs
from wfe._timers import WakeupTimers
from wfe_core.clock import SystemClock
from wfe_core.definition import WorkflowDefinition
from wfe_core.errors import HostError
from wfe_core.executor import StepMiddleware, WorkflowExecutor
from wfe_core.models import (
    LifecycleEvent,
    LifecycleEventBase,
    QueueType,
    WorkflowInstance,
    lifecycle_kinds,
)
from wfe_core.protocols import (
    ArtifactStore,
    Clock,
    LifecycleCallback,
    LifecycleHub,
    LifecycleInterest,
    LockProvider,
    PersistenceProvider,
    QueueProvider,
    SearchIndex,
)
from wfe_core.step import LogSink

log = logging.getLogger("wfe.host")

WorkflowMiddleware = Callable[[WorkflowInstance], Awaitable[None] | None]
Phase = Literal["pre", "execute", "post"]


class WorkflowHost(
    HostServices, StartVerbs, SteeringVerbs, ReadingVerbs, ActivityVerbs, ScheduleVerbs, ForkVerbs
):
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
        # checked once: a runtime protocol check costs more than a pass's bookkeeping
        self._interest = lifecycle_hub if isinstance(lifecycle_hub, LifecycleInterest) else None
        if self._interest is not None:  # otherwise the executor builds every kind
            self.executor.events_wanted = self._interest.wanted_kinds
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
                workflow_hook=self._run_middleware if self._workflow_middleware else None,
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

    # -- lifecycle events ------------------------------------------------------------------------------------

    def on_lifecycle_event(
        self, callback: LifecycleCallback, *, kinds: Iterable[str | type[LifecycleEventBase]] | None = None
    ) -> None:
        """Call ``callback(event)`` (sync or async) for every lifecycle event, from every host on the hub; with
        ``kinds`` (names such as ``"WorkflowCompleted"``, or the event classes), for those kinds only.

        On a hub that sees all its subscribers (the in-memory one), events of a kind no subscriber takes are not
        built at all: a host whose callbacks all name their kinds saves the cost of a step's events."""
        self._dispatcher.add_callback(callback, None if kinds is None else lifecycle_kinds(kinds))

    def _wanted_kinds(self) -> frozenset[str] | None:
        """The kinds of lifecycle event someone on the hub takes (None: every kind, or the hub cannot tell)."""
        interest = self._interest
        return interest.wanted_kinds() if interest is not None else None

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
