"""The persistence protocol: where instances, pointers, events, subscriptions and errors live."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from wfe_core.models import (
    Delivery,
    Event,
    EventSubscription,
    ExecutionError,
    ExecutionPointer,
    ScheduledCommand,
    WorkflowInstance,
    WorkflowStatus,
)


@runtime_checkable
class PersistenceProvider(Protocol):
    """Stores workflow state. Every method is a coroutine; providers wrap driver errors in ``PersistenceError``.

    General contract:

    * Times are timezone-aware UTC on the way in and out.
    * ``WorkflowInstance.data`` is stored as JSON (``to_jsonable``); it comes back as plain JSON values and the
      host re-validates it into the definition's data type.
    * Pointer ``scope`` order, ``children`` order and every pointer field round-trip exactly.
    * ``WorkflowInstance.errors`` is not stored with the instance: errors are kept apart (``persist_errors``,
      ``get_errors``), so writes ignore it and instances come back with it empty.
    * Methods are safe to call concurrently from many tasks (and, for shared stores, many hosts).
    * The connection dropping mid-call raises ``PersistenceError``; the provider reconnects on the next call.
    """

    async def ensure_store_exists(self) -> None:
        """Create or migrate the schema. Idempotent, and safe when several hosts call it at once."""

    async def close(self) -> None:
        """Release connections. Idempotent."""

    # -- workflows ---------------------------------------------------------------------------------------

    async def create_workflow(self, instance: WorkflowInstance) -> str:
        """Store a new instance with its pointers, atomically, and return its id.

        Assigns ``instance.id`` (a UUID) when empty and ``instance.name`` (``{definition_id}-{N}``, N counting
        from 1 per definition id, never reused) when empty; both are written back onto ``instance``.
        """

    async def create_workflow_once(self, instance: WorkflowInstance) -> bool:
        """Store a new instance unless one with its id exists: the insert-or-return behind idempotent starts.

        ``instance.id`` must be set. When no instance has that id, this stores it exactly as ``create_workflow``
        does (assigning ``{definition_id}-{N}`` when ``instance.name`` is empty) and returns True. When one
        exists, whatever its status, nothing is written and False is returned. Atomic across hosts: of many
        calls with the same id at the same time, exactly one returns True (a primary key or unique
        insert-or-return in the store, never a read-then-write). A name another instance already has raises
        ``WorkflowNameTakenError`` naming that instance, and nothing is written.
        """

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
        """Write the instance's own fields and the given pointers (inserted or updated), atomically.

        ``pointers=None`` writes every pointer of the instance; a sequence writes only those (the executor passes
        the pointers a pass created or changed, so the cost of a pass does not grow with history). Pointers
        are never deleted here. ``subscriptions`` and ``events`` are created in the same transaction (their ids
        kept; an event is stored as ``create_event`` stores it, so the instance's news, such as a sub-workflow
        telling its parent it ended, cannot be lost between two commits).

        Event delivery happens in the same transaction, so no delivery ever lives only in a host's memory
        between two commits (a crash at any point loses no event and delivers none twice):

        * When ``now`` is given, each new subscription *takes* the oldest stored event (by event time, then
          creation order) with its name and key, ``subscribe_as_of <= event_time <= now``, that this instance
          has not consumed and that no earlier subscription of this call took, processed or not. Storing the
          subscription and reading the events must not race with ``create_event``: an event whose creation
          commits after this call's read must see the subscription in ``get_subscriptions`` (SQLite and the
          memory store serialise writes; PostgreSQL takes a transaction lock on the name and key in both).
        * Each of ``deliveries`` (``now`` required) is applied when its subscription is open and belongs to this
          instance and its event exists and was not consumed by this instance; otherwise it is skipped.

        Applying a delivery follows ``wfe_core.delivery``: ``apply_delivery`` gives a woken copy of the
        subscription's pointer, written with the others (also when ``pointers`` does not list them; use
        ``written_pointers``) with the instance due at ``now``, and the subscription is closed recording the
        event as consumed by this instance (``get_consumed_event_ids``). When the pointer no longer waits, the
        subscription is closed recording the event that pointer did get, if any. Once committed, ``adopt``
        makes ``instance`` (in memory) what was written.

        Returns the deliveries (taken or given) that woke a pointer. On any error nothing is written and
        ``instance`` is left as it was.

        Fencing: when ``fence`` is given and the store has already accepted a write for this instance with a
        larger fence, nothing is written and ``LeaseLostError`` is raised; otherwise the fence is remembered.
        A fenced write also runs the caller's lease check (``wfe_core.write_guard``) as it is written, not only
        when it was asked for; when the check raises, nothing is written and its error is raised.
        Raises ``WorkflowNotFoundError`` when the instance does not exist.
        """

    async def claim_workflow(self, workflow_id: str, fence: int) -> None:
        """Remember ``fence`` as the newest for this instance before its new lease holder reads it.

        Atomic: raises ``LeaseLostError`` (and changes nothing) when a larger fence was already accepted, and
        ``WorkflowNotFoundError`` when the instance does not exist. A write still in flight from an older
        holder either lands before the claim (and the claimer then reads it) or is refused after it, so a host
        that lost its lease can never slip a write under the new holder's feet. Like a fenced
        ``persist_workflow``, it runs the caller's lease check (``wfe_core.write_guard``) as it is written.
        """

    async def get_workflow(self, workflow_id: str) -> WorkflowInstance:
        """The instance with this id, or with this human name; ``WorkflowNotFoundError`` when neither exists."""

    async def get_workflows(self, workflow_ids: Sequence[str]) -> list[WorkflowInstance]:
        """The instances with these ids; unknown ids are silently dropped."""

    async def get_runnable_instances(self, as_at: datetime) -> list[str]:
        """Ids of RUNNABLE instances whose ``next_execution`` is set and ``<= as_at``."""

    async def list_workflows(
        self,
        *,
        status: WorkflowStatus | None = None,
        definition_id: str | None = None,
        skip: int = 0,
        take: int = 100,
    ) -> list[WorkflowInstance]:
        """Instances newest first (by create time), optionally filtered; for listings such as ``wfe list``."""

    async def purge_workflows(self, status: WorkflowStatus, older_than: datetime) -> int:
        """Delete instances with this status completed before ``older_than``, with their pointers, errors and
        subscriptions; return how many instances were removed."""

    # -- subscriptions ---------------------------------------------------------------------------------

    async def create_subscription(self, subscription: EventSubscription) -> str:
        """Store a subscription (keeping its id) and return the id."""

    async def get_subscription(self, subscription_id: str) -> EventSubscription:
        """The subscription (open or terminated); ``SubscriptionNotFoundError`` when unknown."""

    async def get_subscriptions(
        self, event_name: str, event_key: str, as_of: datetime
    ) -> list[EventSubscription]:
        """Open (not terminated) subscriptions on name and key with ``subscribe_as_of <= as_of``, oldest first."""

    async def terminate_subscription(self, subscription_id: str, *, event_id: str | None = None) -> None:
        """Close the subscription, recording the event that satisfied it (if any). Idempotent: closing a closed
        subscription keeps the first recorded event. Unknown ids are ignored."""

    async def get_consumed_event_ids(self, workflow_id: str, event_name: str, event_key: str) -> set[str]:
        """Ids of events (with this name and key) already delivered to this instance, as recorded by
        ``terminate_subscription``. The engine never delivers such an event to the instance again."""

    async def get_first_open_subscription(
        self, event_name: str, event_key: str, as_of: datetime
    ) -> EventSubscription | None:
        """The oldest open subscription on name and key with ``subscribe_as_of <= as_of`` whose external token is
        unset or expired (``external_token_expiry <= as_of``); None when there is none."""

    async def set_subscription_token(
        self, subscription_id: str, token: str, worker_id: str, expiry: datetime, *, now: datetime
    ) -> bool:
        """Lease the subscription to a worker. Atomic compare-and-set: succeeds (True) only when the subscription
        is open and its token is unset or expired at ``now``; False otherwise (another worker holds it)."""

    async def clear_subscription_token(self, subscription_id: str, token: str) -> None:
        """Drop the lease. ``SubscriptionNotFoundError`` when the subscription is unknown or holds another token."""

    # -- events ------------------------------------------------------------------------------------------

    async def create_event(self, event: Event) -> str:
        """Store an event (keeping its id) and return the id."""

    async def get_event(self, event_id: str) -> Event:
        """The event; ``EventNotFoundError`` when unknown."""

    async def get_runnable_events(self, as_at: datetime) -> list[str]:
        """Ids of unprocessed events with ``event_time <= as_at``, oldest first."""

    async def get_events(self, event_name: str, event_key: str, as_of: datetime) -> list[str]:
        """Ids of events on name and key with ``event_time >= as_of``, processed or not, oldest first
        (by event time, then by the order they were created)."""

    async def mark_event_processed(self, event_id: str) -> None:
        """Set ``is_processed``. Idempotent."""

    async def mark_event_unprocessed(self, event_id: str) -> None:
        """Clear ``is_processed``. Idempotent."""

    async def purge_events(self, older_than: datetime) -> int:
        """Delete processed events with ``event_time < older_than``; return how many."""

    # -- errors --------------------------------------------------------------------------------------------

    async def persist_errors(self, errors: Sequence[ExecutionError]) -> None:
        """Append execution errors."""

    async def get_errors(self, workflow_id: str) -> list[ExecutionError]:
        """The instance's errors, oldest first."""


@runtime_checkable
class LockFamilyRecord(Protocol):
    """Optional for a ``PersistenceProvider``: remembers which lock provider family the hosts of a store use.

    Two hosts sharing a store with different lock providers (one PostgreSQL lock, one Valkey lock) exclude
    nothing from each other, and their fences come from different counters. A host checks the family at start
    and refuses to start on a mismatch; a store without this method is not checked."""

    async def record_lock_family(self, family: str) -> str:
        """Record ``family`` unless a family is recorded already, and return the recorded one. Atomic: hosts
        starting at the same time on an empty store all get the same answer."""


@runtime_checkable
class ScheduledCommandStore(Protocol):
    """Optional for a ``PersistenceProvider``: deferred "queue this id" commands kept in the store.

    The host does not use them (its wake-ups are in-process timers, the queue and the runnable poller); a store
    may offer them to applications. ``ScheduledCommandSuite`` checks the contract."""

    async def schedule_command(self, command: ScheduledCommand) -> None:
        """Store a command; scheduling the same (name, data) again keeps one (the earliest time)."""

    async def process_commands(
        self, as_at: datetime, handler: Callable[[ScheduledCommand], Awaitable[None]]
    ) -> None:
        """Run ``handler`` for each command due at ``as_at`` and delete it once the handler returned. A command
        whose handler raised stays for the next call. Several hosts may call this at once: each command is
        handed to at least one of them."""
