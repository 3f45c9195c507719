"""MemoryPersistence: the in-memory store, the default of the in-memory host and of tests."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

import pydantic_core

from wfe_core.delivery import (
    adopt,
    check_delivery_time,
    delivered,
    written_pointers,
)
from wfe_core.errors import (
    LeaseLostError,
    PersistenceError,
    WorkflowNameTakenError,
    WorkflowNotFoundError,
)
from wfe_core.models import (
    Delivery,
    Event,
    EventSubscription,
    ExecutionPointer,
    Schedule,
    WorkflowInstance,
    WorkflowStatus,
    new_id,
)
from wfe_core.providers.memory.commands import MemoryErrorsAndCommands
from wfe_core.providers.memory.copies import (
    I_COMPLETE_TIME,
    I_CREATE_TIME,
    I_DEFINITION,
    I_ID,
    I_NAME,
    I_NEXT_EXECUTION,
    I_STATUS,
    P_ID,
    InstanceRecord,
    PointerRecord,
    instance_data,
    instance_from_record,
    instance_record,
    pointer_from_record,
    pointer_record,
    renamed,
)
from wfe_core.providers.memory.events import MemoryEvents
from wfe_core.providers.memory.queue_slots import MemoryQueueSlots
from wfe_core.providers.memory.schedules import MemorySchedules
from wfe_core.providers.memory.url import check_memory_url
from wfe_core.storable import unstorable
from wfe_core.write_guard import check_now

_RUNNABLE = WorkflowStatus.RUNNABLE.value
"""The status of a runnable instance as its record holds it."""


def _keep_pointers(kept: dict[str, PointerRecord], pointers: Iterable[ExecutionPointer]) -> None:
    """Put the records of ``pointers`` into ``kept``, by id (read from each record: not through the model)."""
    for pointer in pointers:
        record = pointer_record(pointer)
        kept[record[P_ID]] = record


@dataclass(slots=True)
class _StoredWorkflow:
    instance: InstanceRecord
    """The instance's own fields, without its data and pointers."""
    data: Any
    """The instance's data (a model as JSON)."""
    pointers: dict[str, PointerRecord]
    fence: int | None = None


class MemoryPersistence(MemoryEvents, MemoryErrorsAndCommands, MemorySchedules, MemoryQueueSlots):
    """In-process ``PersistenceProvider``.

    Everything is kept in dicts keyed by id (plus indexes by event name and key, and of runnable
    instances), so the cost of a call does not grow with the number of stored instances. Values are
    deep-copied on the way in and out: mutating an object after a call never changes what is stored.
    Instance data is stored as JSON (``to_jsonable``), as a real store would. Safe for concurrent tasks
    and threads of one process.
    """

    def __init__(self) -> None:
        super().__init__()
        self._guard = threading.Lock()
        self._seq = itertools.count()
        self._workflows: dict[str, _StoredWorkflow] = {}
        self._names: dict[str, str] = {}
        self._sequences: dict[str, int] = {}
        self._runnable: dict[str, datetime] = {}
        self._lock_family: str | None = None
        self._schedules: dict[str, Schedule] = {}

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """Build from ``memory://``; ``options`` are constructor keywords."""
        check_memory_url(url, cls.__name__)
        return cls(**options)

    async def ensure_store_exists(self) -> None:
        """Nothing to create; idempotent."""

    async def close(self) -> None:
        """Nothing to release; the data stays. Idempotent."""

    async def record_lock_family(self, family: str) -> str:
        with self._guard:
            if self._lock_family is None:
                self._lock_family = family
            return self._lock_family

    # -- workflows ---------------------------------------------------------------------------------------

    async def create_workflow(self, instance: WorkflowInstance) -> str:
        f = instance.__dict__  # one read through pydantic's attribute hook, not five
        workflow_id, name = f["id"], f["name"]
        with self._guard:
            if workflow_id and workflow_id in self._workflows:
                raise PersistenceError(
                    f"workflow instance '{workflow_id}' already exists: leave the id empty to get a new one"
                )
            if name and name in self._names:
                raise PersistenceError(
                    f"workflow name '{name}' is already used: leave the name empty to get a new one"
                )
            if not workflow_id:
                instance.id = new_id()
            return self._insert(instance)

    async def create_workflow_once(self, instance: WorkflowInstance) -> bool:
        if not instance.id:
            raise ValueError(
                "create_workflow_once needs instance.id: set the id that makes the start idempotent"
            )
        with self._guard:
            if instance.id in self._workflows:
                return False
            if instance.name and instance.name in self._names:
                raise WorkflowNameTakenError(instance.name, self._names[instance.name])
            self._insert(instance)
            return True

    def _insert(self, instance: WorkflowInstance) -> str:
        """Store a new instance (under the guard), naming it ``{definition}-{N}`` when it has no name; its id."""
        f = instance.__dict__  # (as in ``create_workflow``)
        if not f["name"]:
            instance.name = self._next_name(f["workflow_definition_id"])
        record, data = self._snapshot(instance)
        workflow_id: str = record[I_ID]
        pointers: dict[str, PointerRecord] = {}
        _keep_pointers(pointers, f["execution_pointers"])
        self._workflows[workflow_id] = _StoredWorkflow(record, data, pointers)
        self._names[record[I_NAME]] = workflow_id
        self._index_runnable(workflow_id, record)
        return workflow_id

    async def claim_workflow(self, workflow_id: str, fence: int) -> None:
        check_now()
        with self._guard:
            stored = self._workflows.get(workflow_id)
            if stored is None:
                raise WorkflowNotFoundError(workflow_id)
            if stored.fence is not None and fence < stored.fence:
                raise LeaseLostError(
                    workflow_id,
                    f"claim with fence {fence}, but the store already accepted fence {stored.fence}",
                )
            stored.fence = fence

    async def persist_workflow(
        self,
        instance: WorkflowInstance,
        *,
        pointers: Sequence[ExecutionPointer] | None = None,
        subscriptions: Sequence[EventSubscription] = (),
        deliveries: Sequence[Delivery] = (),
        events: Sequence[Event] = (),
        now: datetime | None = None,
        fence: int | None = None,
    ) -> list[Delivery]:
        check_delivery_time(deliveries, now)
        if fence is not None:
            check_now()
        with self._guard:
            stored = self._workflows.get(instance.id)
            if stored is None:
                raise WorkflowNotFoundError(instance.id)
            if fence is not None and stored.fence is not None and fence < stored.fence:
                raise LeaseLostError(
                    instance.id,
                    f"write fenced with {fence}, but the store already accepted fence {stored.fence}",
                )
            for subscription in subscriptions:
                self._check_new_subscription(subscription)
            for event in events:
                self._check_new_event(event)
            # Everything is validated above, so the writes below cannot stop half-way.
            # (most passes neither subscribe nor deliver: nothing to look up for them)
            outcomes = (
                self._deliver(instance, subscriptions, deliveries, now) if subscriptions or deliveries else []
            )
            if outcomes and now is not None:
                adopt(instance, outcomes, now)  # nothing below can fail: the caller's instance is the write
            record, data = self._snapshot(instance)
            if fence is not None:
                stored.fence = fence
            old_name, name = stored.instance[I_NAME], record[I_NAME]
            if name != old_name:
                if name and name not in self._names:
                    del self._names[old_name]
                    self._names[name] = record[I_ID]
                else:
                    record = renamed(record, old_name)
            stored.instance = record
            stored.data = data
            _keep_pointers(stored.pointers, written_pointers(instance, pointers, outcomes))
            for subscription in subscriptions:
                self._add_subscription(subscription)
            for outcome in outcomes:
                self._close(outcome.subscription_id, outcome.consumed_event_id)
            for event in events:
                self._add_event(event)
            self._index_runnable(record[I_ID], record)
            return delivered(outcomes) if outcomes else []

    async def get_workflow(self, workflow_id: str) -> WorkflowInstance:
        with self._guard:
            stored = self._workflows.get(workflow_id)
            if stored is None:
                by_name = self._names.get(workflow_id)
                stored = self._workflows.get(by_name) if by_name is not None else None
            if stored is None:
                raise WorkflowNotFoundError(workflow_id)
            return self._materialize(stored)

    async def get_workflows(self, workflow_ids: Sequence[str]) -> list[WorkflowInstance]:
        with self._guard:
            return [
                self._materialize(self._workflows[workflow_id])
                for workflow_id in dict.fromkeys(workflow_ids)
                if workflow_id in self._workflows
            ]

    async def get_runnable_instances(self, as_at: datetime) -> list[str]:
        with self._guard:
            due = [(when, workflow_id) for workflow_id, when in self._runnable.items() if when <= as_at]
        return [workflow_id for _, workflow_id in sorted(due)]

    async def list_workflows(
        self,
        *,
        status: WorkflowStatus | None = None,
        definition_id: str | None = None,
        skip: int = 0,
        take: int = 100,
    ) -> list[WorkflowInstance]:
        with self._guard:
            matching = [
                stored
                for stored in self._workflows.values()
                if (status is None or stored.instance[I_STATUS] == status)
                and (definition_id is None or stored.instance[I_DEFINITION] == definition_id)
            ]
            matching.sort(key=lambda stored: stored.instance[I_CREATE_TIME], reverse=True)
            return [
                self._materialize(stored) for stored in matching[max(0, skip) : max(0, skip) + max(0, take)]
            ]

    async def purge_workflows(self, status: WorkflowStatus, older_than: datetime) -> int:
        with self._guard:
            victims = [
                workflow_id
                for workflow_id, stored in self._workflows.items()
                if stored.instance[I_STATUS] == status
                and stored.instance[I_COMPLETE_TIME] is not None
                and stored.instance[I_COMPLETE_TIME] < older_than
            ]
            for workflow_id in victims:
                stored = self._workflows.pop(workflow_id)
                self._names.pop(stored.instance[I_NAME], None)
                self._runnable.pop(workflow_id, None)
                self._errors.pop(workflow_id, None)
                self._consumed.pop(workflow_id, None)
                for subscription_id in self._subscriptions_by_workflow.pop(workflow_id, set()):
                    self._remove_subscription(subscription_id)
            return len(victims)

    # -- internals -----------------------------------------------------------------------------------------

    def _next_name(self, definition_id: str) -> str:
        number = self._sequences.get(definition_id, 0)
        while True:
            number += 1
            name = f"{definition_id}-{number}"
            if name not in self._names:
                self._sequences[definition_id] = number
                return name

    @staticmethod
    def _snapshot(instance: WorkflowInstance) -> tuple[InstanceRecord, Any]:
        """The instance's record and its data's copy, as the store keeps them."""
        try:
            return instance_record(instance), instance_data(instance)
        except pydantic_core.PydanticSerializationError as exc:
            raise (unstorable(instance.data) or exc) from None

    @staticmethod
    def _materialize(stored: _StoredWorkflow) -> WorkflowInstance:
        return instance_from_record(
            stored.instance, stored.data, [pointer_from_record(p) for p in stored.pointers.values()]
        )

    def _index_runnable(self, workflow_id: str, record: InstanceRecord) -> None:
        """Index the instance as runnable from its time, or not, as its record (just written) says."""
        due = record[I_NEXT_EXECUTION]
        if due is not None and record[I_STATUS] == _RUNNABLE:
            self._runnable[workflow_id] = due
        else:
            self._runnable.pop(workflow_id, None)
