"""MemoryPersistence: the in-memory store, the default of the in-memory host and of tests."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

import pydantic_core

from wfe_core.delivery import (
    Applied,
    adopt,
    apply_delivery,
    check_delivery_time,
    delivered,
    first_taken,
    written_pointers,
)
from wfe_core.errors import (
    EventNotFoundError,
    LeaseLostError,
    PersistenceError,
    SubscriptionNotFoundError,
    WorkflowNameTakenError,
    WorkflowNotFoundError,
)
from wfe_core.models import (
    Delivery,
    Event,
    EventSubscription,
    ExecutionError,
    ExecutionPointer,
    Schedule,
    ScheduledCommand,
    WorkflowInstance,
    WorkflowStatus,
    new_id,
    to_jsonable,
)
from wfe_core.providers.memory.copies import copy_instance_fields, copy_model, copy_pointer
from wfe_core.providers.memory.queue_slots import MemoryQueueSlots
from wfe_core.providers.memory.schedules import MemorySchedules
from wfe_core.providers.memory.url import check_memory_url
from wfe_core.storable import unstorable
from wfe_core.write_guard import check_now

logger = logging.getLogger(__name__)

_Key = tuple[str, str]
"""(event name, event key)"""


@dataclass(slots=True)
class _StoredWorkflow:
    instance: WorkflowInstance
    """The instance's own fields (data as JSON), with an empty pointer list."""
    pointers: dict[str, ExecutionPointer]
    fence: int | None = None


@dataclass(slots=True)
class _StoredSubscription:
    subscription: EventSubscription
    seq: int
    terminated: bool = False
    event_id: str | None = None


@dataclass(slots=True)
class _StoredEvent:
    event: Event
    seq: int


@dataclass(slots=True)
class _StoredCommand:
    command: ScheduledCommand
    seq: int


class MemoryPersistence(MemorySchedules, MemoryQueueSlots):
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
        self._subscriptions: dict[str, _StoredSubscription] = {}
        self._open_subscriptions: dict[_Key, dict[str, _StoredSubscription]] = {}
        self._subscriptions_by_workflow: dict[str, set[str]] = {}
        self._consumed: dict[str, dict[_Key, set[str]]] = {}
        self._events: dict[str, _StoredEvent] = {}
        self._events_by_key: dict[_Key, dict[str, _StoredEvent]] = {}
        self._unprocessed: dict[str, _StoredEvent] = {}
        self._errors: dict[str, list[ExecutionError]] = {}
        self._commands: dict[tuple[str, str], _StoredCommand] = {}
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
        with self._guard:
            if instance.id and instance.id in self._workflows:
                raise PersistenceError(
                    f"workflow instance '{instance.id}' already exists: leave the id empty to get a new one"
                )
            if instance.name and instance.name in self._names:
                raise PersistenceError(
                    f"workflow name '{instance.name}' is already used: leave the name empty to get a new one"
                )
            if not instance.id:
                instance.id = new_id()
            self._insert(instance)
            return instance.id

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

    def _insert(self, instance: WorkflowInstance) -> None:
        """Store a new instance (under the guard), naming it ``{definition}-{N}`` when it has no name."""
        if not instance.name:
            instance.name = self._next_name(instance.workflow_definition_id)
        stored = _StoredWorkflow(
            self._snapshot(instance), {p.id: copy_pointer(p) for p in instance.execution_pointers}
        )
        self._workflows[instance.id] = stored
        self._names[instance.name] = instance.id
        self._index_runnable(stored.instance)

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
            if fence is not None:
                stored.fence = fence
            old_name = stored.instance.name
            stored.instance = self._snapshot(instance)
            if instance.name and instance.name != old_name and instance.name not in self._names:
                del self._names[old_name]
                self._names[instance.name] = instance.id
            else:
                stored.instance.name = old_name
            kept = stored.pointers
            for pointer in written_pointers(instance, pointers, outcomes):
                kept[pointer.id] = copy_pointer(pointer)
            for subscription in subscriptions:
                self._add_subscription(subscription)
            for outcome in outcomes:
                self._close(outcome.subscription_id, outcome.consumed_event_id)
            for event in events:
                self._add_event(event)
            self._index_runnable(stored.instance)
            return delivered(outcomes) if outcomes else []

    def _deliver(
        self,
        instance: WorkflowInstance,
        subscriptions: Sequence[EventSubscription],
        deliveries: Sequence[Delivery],
        now: datetime | None,
    ) -> list[Applied]:
        """The deliveries applicable to ``instance`` and the events its new subscriptions take."""
        outcomes: list[Applied] = []
        consumed: dict[_Key, set[str]] = {}

        def consumed_on(key: _Key) -> set[str]:
            if key not in consumed:
                consumed[key] = set(self._consumed.get(instance.id, {}).get(key, ()))
            return consumed[key]

        def apply(subscription: EventSubscription, event: Event) -> None:
            outcome = apply_delivery(instance, subscription, copy_model(event))
            outcomes.append(outcome)
            if outcome.pointer is not None:
                consumed_on((subscription.event_name, subscription.event_key)).add(event.id)

        for delivery in deliveries:
            stored = self._subscriptions.get(delivery.subscription_id)
            found = self._events.get(delivery.event_id)
            if stored is None or found is None or stored.terminated:
                continue
            subscription = stored.subscription
            key = (subscription.event_name, subscription.event_key)
            if subscription.workflow_id != instance.id or delivery.event_id in consumed_on(key):
                continue
            apply(subscription, found.event)
        if now is not None:
            for subscription in subscriptions:
                key = (subscription.event_name, subscription.event_key)
                candidates = sorted(
                    self._events_by_key.get(key, {}).values(),
                    key=lambda stored: (stored.event.event_time, stored.seq),
                )
                taken = first_taken(
                    subscription, (stored.event for stored in candidates), now, consumed_on(key)
                )
                if taken is not None:
                    apply(subscription, taken)
        return outcomes

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
                if (status is None or stored.instance.status == status)
                and (definition_id is None or stored.instance.workflow_definition_id == definition_id)
            ]
            matching.sort(key=lambda stored: stored.instance.create_time, reverse=True)
            return [
                self._materialize(stored) for stored in matching[max(0, skip) : max(0, skip) + max(0, take)]
            ]

    async def purge_workflows(self, status: WorkflowStatus, older_than: datetime) -> int:
        with self._guard:
            victims = [
                workflow_id
                for workflow_id, stored in self._workflows.items()
                if stored.instance.status == status
                and stored.instance.complete_time is not None
                and stored.instance.complete_time < older_than
            ]
            for workflow_id in victims:
                stored = self._workflows.pop(workflow_id)
                self._names.pop(stored.instance.name, None)
                self._runnable.pop(workflow_id, None)
                self._errors.pop(workflow_id, None)
                self._consumed.pop(workflow_id, None)
                for subscription_id in self._subscriptions_by_workflow.pop(workflow_id, set()):
                    self._remove_subscription(subscription_id)
            return len(victims)

    # -- subscriptions ---------------------------------------------------------------------------------

    async def create_subscription(self, subscription: EventSubscription) -> str:
        with self._guard:
            self._check_new_subscription(subscription)
            self._add_subscription(subscription)
            return subscription.id

    async def get_subscription(self, subscription_id: str) -> EventSubscription:
        with self._guard:
            stored = self._subscriptions.get(subscription_id)
            if stored is None:
                raise SubscriptionNotFoundError(subscription_id)
            return copy_model(stored.subscription)

    async def get_subscriptions(
        self, event_name: str, event_key: str, as_of: datetime
    ) -> list[EventSubscription]:
        with self._guard:
            return [
                copy_model(stored.subscription) for stored in self._open_as_of(event_name, event_key, as_of)
            ]

    async def terminate_subscription(self, subscription_id: str, *, event_id: str | None = None) -> None:
        with self._guard:
            self._close(subscription_id, event_id)

    def _close(self, subscription_id: str, event_id: str | None) -> None:
        stored = self._subscriptions.get(subscription_id)
        if stored is None or stored.terminated:
            return
        stored.terminated = True
        stored.event_id = event_id
        subscription = stored.subscription
        key = (subscription.event_name, subscription.event_key)
        self._discard_open(key, subscription_id)
        if event_id is not None:
            consumed = self._consumed.setdefault(subscription.workflow_id, {})
            consumed.setdefault(key, set()).add(event_id)

    async def get_consumed_event_ids(self, workflow_id: str, event_name: str, event_key: str) -> set[str]:
        with self._guard:
            return set(self._consumed.get(workflow_id, {}).get((event_name, event_key), ()))

    async def get_first_open_subscription(
        self, event_name: str, event_key: str, as_of: datetime
    ) -> EventSubscription | None:
        with self._guard:
            for stored in self._open_as_of(event_name, event_key, as_of):
                if not _token_held(stored.subscription, as_of):
                    return copy_model(stored.subscription)
            return None

    async def set_subscription_token(
        self, subscription_id: str, token: str, worker_id: str, expiry: datetime, *, now: datetime
    ) -> bool:
        with self._guard:
            stored = self._subscriptions.get(subscription_id)
            if stored is None or stored.terminated or _token_held(stored.subscription, now):
                return False
            stored.subscription.external_token = token
            stored.subscription.external_worker_id = worker_id
            stored.subscription.external_token_expiry = expiry
            return True

    async def clear_subscription_token(self, subscription_id: str, token: str) -> None:
        with self._guard:
            stored = self._subscriptions.get(subscription_id)
            if stored is None:
                raise SubscriptionNotFoundError(subscription_id)
            if stored.subscription.external_token != token:
                raise SubscriptionNotFoundError(subscription_id, "it is leased with another token")
            stored.subscription.external_token = None
            stored.subscription.external_worker_id = None
            stored.subscription.external_token_expiry = None

    # -- events ------------------------------------------------------------------------------------------

    async def create_event(self, event: Event) -> str:
        with self._guard:
            self._check_new_event(event)
            self._add_event(event)
            return event.id

    def _check_new_event(self, event: Event) -> None:
        if event.id in self._events:
            raise PersistenceError(f"event '{event.id}' already exists: give each event a new id")

    def _add_event(self, event: Event) -> None:
        stored = _StoredEvent(copy_model(event), next(self._seq))
        self._events[event.id] = stored
        self._events_by_key.setdefault((event.event_name, event.event_key), {})[event.id] = stored
        if not event.is_processed:
            self._unprocessed[event.id] = stored

    async def get_event(self, event_id: str) -> Event:
        with self._guard:
            stored = self._events.get(event_id)
            if stored is None:
                raise EventNotFoundError(event_id)
            return copy_model(stored.event)

    async def get_runnable_events(self, as_at: datetime) -> list[str]:
        with self._guard:
            return _oldest_first(
                stored for stored in self._unprocessed.values() if stored.event.event_time <= as_at
            )

    async def get_events(self, event_name: str, event_key: str, as_of: datetime) -> list[str]:
        with self._guard:
            candidates = self._events_by_key.get((event_name, event_key), {}).values()
            return _oldest_first(stored for stored in candidates if stored.event.event_time >= as_of)

    async def mark_event_processed(self, event_id: str) -> None:
        with self._guard:
            stored = self._events.get(event_id)
            if stored is not None:
                stored.event.is_processed = True
                self._unprocessed.pop(event_id, None)

    async def mark_event_unprocessed(self, event_id: str) -> None:
        with self._guard:
            stored = self._events.get(event_id)
            if stored is not None:
                stored.event.is_processed = False
                self._unprocessed[event_id] = stored

    async def purge_events(self, older_than: datetime) -> int:
        with self._guard:
            victims = [
                stored.event
                for stored in self._events.values()
                if stored.event.is_processed and stored.event.event_time < older_than
            ]
            for event in victims:
                del self._events[event.id]
                key = (event.event_name, event.event_key)
                same_key = self._events_by_key.get(key)
                if same_key is not None:
                    same_key.pop(event.id, None)
                    if not same_key:
                        del self._events_by_key[key]
            return len(victims)

    # -- errors --------------------------------------------------------------------------------------------

    async def persist_errors(self, errors: Sequence[ExecutionError]) -> None:
        with self._guard:
            for error in errors:
                self._errors.setdefault(error.workflow_id, []).append(copy_model(error))

    async def get_errors(self, workflow_id: str) -> list[ExecutionError]:
        with self._guard:
            errors = sorted(self._errors.get(workflow_id, ()), key=lambda error: error.error_time)
            return [copy_model(error) for error in errors]

    # -- scheduled commands ----------------------------------------------------------------------------

    async def schedule_command(self, command: ScheduledCommand) -> None:
        key = (str(command.command_name), command.data)
        with self._guard:
            existing = self._commands.get(key)
            if existing is None or command.execute_time < existing.command.execute_time:
                self._commands[key] = _StoredCommand(copy_model(command), next(self._seq))

    async def process_commands(
        self, as_at: datetime, handler: Callable[[ScheduledCommand], Awaitable[None]]
    ) -> None:
        with self._guard:
            due = sorted(
                (item for item in self._commands.items() if item[1].command.execute_time <= as_at),
                key=lambda item: (item[1].command.execute_time, item[1].seq),
            )
        for key, stored in due:
            try:
                await handler(copy_model(stored.command))
            except Exception:
                logger.warning("scheduled command %s failed; it stays for the next run", key, exc_info=True)
                continue
            with self._guard:
                # Delete only what was handled: a re-schedule while the handler ran replaced the entry.
                if self._commands.get(key) is stored:
                    del self._commands[key]

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
    def _snapshot(instance: WorkflowInstance) -> WorkflowInstance:
        snapshot = copy_instance_fields(instance)
        # to_jsonable returns a fresh dict for a model; other data was already copied by copy_instance_fields.
        try:
            snapshot.__dict__["data"] = to_jsonable(snapshot.data)
        except pydantic_core.PydanticSerializationError as exc:
            raise (unstorable(snapshot.data) or exc) from None
        return snapshot

    @staticmethod
    def _materialize(stored: _StoredWorkflow) -> WorkflowInstance:
        instance = copy_instance_fields(stored.instance)
        instance.__dict__["execution_pointers"] = [copy_pointer(p) for p in stored.pointers.values()]
        return instance

    def _index_runnable(self, instance: WorkflowInstance) -> None:
        if instance.status == WorkflowStatus.RUNNABLE and instance.next_execution is not None:
            self._runnable[instance.id] = instance.next_execution
        else:
            self._runnable.pop(instance.id, None)

    def _check_new_subscription(self, subscription: EventSubscription) -> None:
        if subscription.id in self._subscriptions:
            raise PersistenceError(
                f"subscription '{subscription.id}' already exists: give each subscription a new id"
            )

    def _add_subscription(self, subscription: EventSubscription) -> None:
        stored = _StoredSubscription(copy_model(subscription), next(self._seq))
        self._subscriptions[subscription.id] = stored
        key = (subscription.event_name, subscription.event_key)
        self._open_subscriptions.setdefault(key, {})[subscription.id] = stored
        self._subscriptions_by_workflow.setdefault(subscription.workflow_id, set()).add(subscription.id)

    def _remove_subscription(self, subscription_id: str) -> None:
        stored = self._subscriptions.pop(subscription_id, None)
        if stored is not None:
            subscription = stored.subscription
            self._discard_open((subscription.event_name, subscription.event_key), subscription_id)

    def _discard_open(self, key: _Key, subscription_id: str) -> None:
        open_on_key = self._open_subscriptions.get(key)
        if open_on_key is not None:
            open_on_key.pop(subscription_id, None)
            if not open_on_key:
                del self._open_subscriptions[key]

    def _open_as_of(self, event_name: str, event_key: str, as_of: datetime) -> list[_StoredSubscription]:
        candidates = self._open_subscriptions.get((event_name, event_key), {}).values()
        matching = [stored for stored in candidates if stored.subscription.subscribe_as_of <= as_of]
        matching.sort(key=lambda stored: (stored.subscription.subscribe_as_of, stored.seq))
        return matching


def _token_held(subscription: EventSubscription, at: datetime) -> bool:
    """Whether an external worker's lease on the subscription is in force at ``at``."""
    if subscription.external_token is None:
        return False
    expiry = subscription.external_token_expiry
    return expiry is None or expiry > at


def _oldest_first(events: Iterable[_StoredEvent]) -> list[str]:
    return [
        stored.event.id for stored in sorted(events, key=lambda stored: (stored.event.event_time, stored.seq))
    ]
