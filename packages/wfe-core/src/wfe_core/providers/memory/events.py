"""The subscriptions and events of ``MemoryPersistence``, and the delivery of events into an instance."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from wfe_core.delivery import Applied, apply_delivery, first_taken
from wfe_core.errors import EventNotFoundError, PersistenceError, SubscriptionNotFoundError
from wfe_core.models import Delivery, Event, EventSubscription, WorkflowInstance
from wfe_core.providers.memory.copies import copy_model

_Key = tuple[str, str]
"""(event name, event key)"""


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


class MemoryEvents:
    """Subscriptions and events in dicts keyed by id, indexed by event name and key (open subscriptions,
    events) and by workflow; copied on the way in and out; every change under the store's guard."""

    _guard: threading.Lock
    _seq: itertools.count[int]

    def __init__(self) -> None:
        super().__init__()
        self._subscriptions: dict[str, _StoredSubscription] = {}
        self._open_subscriptions: dict[_Key, dict[str, _StoredSubscription]] = {}
        self._subscriptions_by_workflow: dict[str, set[str]] = {}
        self._consumed: dict[str, dict[_Key, set[str]]] = {}
        """Per workflow, per (event name, event key): the ids of the events its closed subscriptions took."""
        self._events: dict[str, _StoredEvent] = {}
        self._events_by_key: dict[_Key, dict[str, _StoredEvent]] = {}
        self._unprocessed: dict[str, _StoredEvent] = {}

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
