"""What delivering an event to a waiting pointer means, shared by every persistence provider.

A provider applies a delivery inside the transaction that records it (``PersistenceProvider.persist_workflow``),
so the woken pointer, the closed subscription and the record "this instance consumed this event" are stored
together or not at all. ``apply_delivery`` says what to write without changing the instance (a transaction
may run again); ``adopt`` brings the caller's instance up to date once the write committed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wfe_core.models import (
    Delivery,
    Event,
    EventSubscription,
    ExecutionPointer,
    PointerStatus,
    WorkflowInstance,
)

DELIVERED_EVENT_ID = "event_id"
"""Pointer attribute naming the event delivered to it."""


@dataclass(frozen=True, slots=True)
class Applied:
    """The outcome of applying one delivery: what the store writes, and then ``adopt`` copies into the
    caller's instance."""

    subscription_id: str
    event: Event
    pointer: ExecutionPointer | None
    """A woken copy of the subscription's pointer (to be written), or None when it no longer waited."""
    consumed_event_id: str | None
    """The event to record on the closed subscription as consumed by the instance."""


def apply_delivery(instance: WorkflowInstance, subscription: EventSubscription, event: Event) -> Applied:
    """What delivering ``event`` to the subscription's pointer writes; ``instance`` is left as it is.

    A pointer that no longer waits (gone, ended, or already given an event) is left alone: the subscription is
    then closed keeping the event that pointer did get, if any."""
    try:
        pointer = instance.pointer(subscription.execution_pointer_id)
    except KeyError:
        return Applied(subscription.id, event, None, None)
    if (
        pointer.end_time is not None
        or pointer.event_published
        or pointer.status is not PointerStatus.WAITING_FOR_EVENT
    ):
        recorded: Any = pointer.extension_attributes.get(DELIVERED_EVENT_ID)
        return Applied(subscription.id, event, None, recorded if isinstance(recorded, str) else None)
    woken = pointer.model_copy(deep=True)
    _wake(woken, event)
    return Applied(subscription.id, event, woken, event.id)


def adopt(instance: WorkflowInstance, applied: Iterable[Applied], now: datetime) -> None:
    """Make ``instance`` (in memory) what the store wrote: each woken pointer woken, the instance due at
    ``now`` when any was. Called once the write committed."""
    for outcome in applied:
        if outcome.pointer is not None:
            _wake(instance.pointer(outcome.pointer.id), outcome.event)
            instance.next_execution = now


def written_pointers(
    instance: WorkflowInstance, pointers: Sequence[ExecutionPointer] | None, applied: Sequence[Applied]
) -> Sequence[ExecutionPointer]:
    """The pointers a write stores: ``pointers`` (every pointer of the instance when None) with the woken
    copies in place of their originals, and the woken ones added when ``pointers`` did not list them."""
    if not applied and pointers is not None:
        return pointers  # most passes deliver nothing: the pointers as given
    woken = {outcome.pointer.id: outcome.pointer for outcome in applied if outcome.pointer is not None}
    if pointers is None:
        return [woken.get(p.id, p) for p in instance.execution_pointers]
    return [p for p in pointers if p.id not in woken] + list(woken.values())


def delivered(applied: Iterable[Applied]) -> list[Delivery]:
    """The deliveries that woke a pointer: what ``persist_workflow`` returns."""
    return [
        Delivery(subscription_id=outcome.subscription_id, event_id=outcome.event.id)
        for outcome in applied
        if outcome.pointer is not None
    ]


def _wake(pointer: ExecutionPointer, event: Event) -> None:
    pointer.event_data = event.event_data
    pointer.event_published = True
    pointer.active = True
    pointer.extension_attributes[DELIVERED_EVENT_ID] = event.id


def takes(subscription: EventSubscription, event: Event, now: datetime, consumed: Collection[str]) -> bool:
    """Whether a new subscription takes this stored event: same name and key, effective between the
    subscription's ``subscribe_as_of`` and ``now``, and not consumed by the instance yet."""
    return (
        event.event_name == subscription.event_name
        and event.event_key == subscription.event_key
        and subscription.subscribe_as_of <= event.event_time <= now
        and event.id not in consumed
    )


def first_taken(
    subscription: EventSubscription, oldest_first: Iterable[Event], now: datetime, consumed: Collection[str]
) -> Event | None:
    """The event a new subscription takes among candidates given oldest first; None when none qualifies."""
    for event in oldest_first:
        if takes(subscription, event, now, consumed):
            return event
    return None


__all__ = [
    "DELIVERED_EVENT_ID",
    "Applied",
    "adopt",
    "apply_delivery",
    "delivered",
    "first_taken",
    "takes",
    "written_pointers",
]


def check_delivery_time(deliveries: Collection[Delivery], now: datetime | None) -> None:
    """The argument check every ``persist_workflow`` makes: deliveries wake pointers at ``now``."""
    if deliveries and now is None:
        raise ValueError("persist_workflow(deliveries=...) needs now=: the time the pointers wake at")
