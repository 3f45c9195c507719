"""Starting instances: the host's start verbs and the one path that creates every instance (a start, a
sub-workflow, a fork), running it here at once when a slot is free."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wfe._options import HostOptions
from wfe._queues import QueueGate
from wfe._registry import WorkflowRegistry
from wfe._runner import InstanceRunner
from wfe_core.data_limits import check_data
from wfe_core.errors import WorkflowNotFoundError
from wfe_core.models import (
    ExecutionPointer,
    LifecycleEventBase,
    QueueType,
    WorkflowInstance,
    WorkflowStarted,
    new_id,
)
from wfe_core.models.instance import new_instance, new_pointer
from wfe_core.protocols import Clock, PersistenceProvider, QueueProvider, SearchIndex

if TYPE_CHECKING:
    from wfe._host import Phase, WorkflowMiddleware


class StartVerbs:
    """The host's verbs that start instances (mixed into ``WorkflowHost``)."""

    persistence: PersistenceProvider
    queue: QueueProvider
    search_index: SearchIndex | None
    clock: Clock
    options: HostOptions
    registry: WorkflowRegistry
    _gate: QueueGate
    _runner: InstanceRunner
    _started: bool

    if TYPE_CHECKING:  # WorkflowHost's

        async def _publish(self, *events: LifecycleEventBase) -> None: ...

        def _wanted_kinds(self) -> frozenset[str] | None: ...

        _workflow_middleware: list[tuple[Phase, WorkflowMiddleware]]

        async def _run_middleware(
            self, phase: str, instance: WorkflowInstance, *, raise_errors: bool = False
        ) -> None: ...

    # -- starting ------------------------------------------------------------------------------------------

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
        with a free slot runs it at once (``start_locally``); on a host whose slots are all busy it waits here
        for one, leased, up to a second (up to ten per slot); otherwise it is queued for any host.

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
            pointers = [new_pointer(0, first.name)]
        if reference is not None and not isinstance(reference, str):
            raise TypeError(f"reference must be a str or None, not {type(reference).__name__}")
        # built without validation: every field is the host's own value or checked above (the data by new_data)
        instance = new_instance(
            id=workflow_id,
            name=name,
            workflow_definition_id=definition.id,
            version=definition.version,
            description=definition.description,
            reference=reference,
            data=definition.new_data(data),
            now=now,
            parent_workflow_id=parent_id,
            root_workflow_id=root_id,
            forked_from=forked_from,
            queue=queue,
            priority=priority,
            execution_pointers=pointers,
        )
        if once and workflow_id and await self._exists(workflow_id):
            return workflow_id  # the common repeat: no middleware, no lease; the store decides a race below
        if self._workflow_middleware:
            await self._run_middleware("pre", instance, raise_errors=True)
        # With a free slot (or a place in line for one), this host takes the new instance's lease first and
        # runs it at once, without the queue's round trip and a reload; a crash before it finishes leaves it
        # RUNNABLE for the poller. When the persistence can, the lease and the instance are one write (one
        # commit to wait for, not two).
        reserved = None
        if once:
            instance.id = instance.id or new_id()
        together = None
        if self._started and self.options.start_locally:
            instance.id = instance.id or new_id()
            together = await self._runner.reservations.create_reserved(instance, once=once)
            if together is None:
                reserved = await self._runner.reservations.reserve_new(instance.id)
        if together is not None:
            created, reserved = together
        else:
            try:
                if once:
                    created = await self.persistence.create_workflow_once(instance)
                else:
                    await self.persistence.create_workflow(instance)
                    created = True
            except BaseException:
                if reserved is not None:
                    await self._runner.reservations.cancel(instance.id, *reserved)
                raise
        if not created:
            # an idempotent start of an instance that exists: nothing was written, nothing more to do
            if reserved is not None:
                await self._runner.reservations.cancel(instance.id, *reserved)
            return instance.id
        try:
            wanted = self._wanted_kinds()
            if wanted is None or "WorkflowStarted" in wanted:
                await self._publish(WorkflowStarted.of(instance, now))
        finally:
            # it is stored: run it even when this call is cancelled, or the slot and the lease stay taken
            if reserved is not None:
                self._runner.spawn_run(instance, *reserved)
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


__all__ = ["StartVerbs"]
