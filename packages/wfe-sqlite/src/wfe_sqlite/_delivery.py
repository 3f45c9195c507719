"""Event delivery inside an instance write of ``SqlitePersistence``: what the write takes, read in its
transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from wfe_core.delivery import Applied, apply_delivery, first_taken
from wfe_core.models import Delivery, Event, EventSubscription, WorkflowInstance
from wfe_sqlite._codec import to_micros, to_micros_opt
from wfe_sqlite._rows import EVENT_COLUMNS, event_from_row, subscription_from_row, workflow_values
from wfe_sqlite._sql import _SELECT_SUBSCRIPTION


def _update_values(
    instance: WorkflowInstance, fence: int | None, next_execution: datetime | None
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The parameters of ``_UPDATE_PASS`` and of ``_UPDATE_WORKFLOW`` for writing ``instance``."""
    (
        workflow_id,
        name,
        definition_id,
        version,
        description,
        reference,
        status,
        data,
        _,
        create_time,
        complete_time,
        parent,
        root,
        forked_from,
        queue,
        priority,
    ) = workflow_values(instance)
    due = to_micros_opt(next_execution)
    return (
        (description, reference, status, data, due, complete_time, queue, priority, fence, workflow_id, fence)
        + (fence, definition_id, version, create_time, name, name, parent, root, forked_from),
        (name, definition_id, version, description, reference, status, data, due, create_time)
        + (complete_time, parent, root, forked_from, queue, priority, fence, workflow_id, fence, fence),
    )


def _consumed(conn: sqlite3.Connection, workflow_id: str, event_name: str, event_key: str) -> set[str]:
    rows = conn.execute(
        "SELECT consumed_event_id FROM event_subscriptions WHERE workflow_id = ? AND event_name = ? "
        "AND event_key = ? AND consumed_event_id IS NOT NULL",
        (workflow_id, event_name, event_key),
    ).fetchall()
    return {r[0] for r in rows}


def _deliver(
    conn: sqlite3.Connection,
    instance: WorkflowInstance,
    subscriptions: Sequence[EventSubscription],
    deliveries: Sequence[Delivery],
    now: datetime | None,
) -> list[Applied]:
    """The deliveries applicable to ``instance`` and the events its new subscriptions take, read inside the
    write transaction."""
    outcomes: list[Applied] = []
    consumed: dict[tuple[str, str], set[str]] = {}

    def consumed_on(subscription: EventSubscription) -> set[str]:
        key = (subscription.event_name, subscription.event_key)
        if key not in consumed:
            consumed[key] = _consumed(conn, instance.id, *key)
        return consumed[key]

    def apply(subscription: EventSubscription, event: Event) -> None:
        outcome = apply_delivery(instance, subscription, event)
        outcomes.append(outcome)
        if outcome.pointer is not None:
            consumed_on(subscription).add(event.id)

    for delivery in deliveries:
        row = conn.execute(
            f"{_SELECT_SUBSCRIPTION} WHERE id = ? AND terminated = 0", (delivery.subscription_id,)
        ).fetchone()
        event_row = conn.execute(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE id = ?", (delivery.event_id,)
        ).fetchone()
        if row is None or event_row is None:
            continue
        subscription = subscription_from_row(row)
        if subscription.workflow_id != instance.id or delivery.event_id in consumed_on(subscription):
            continue
        apply(subscription, event_from_row(event_row))
    if now is not None:
        for subscription in subscriptions:
            candidates = conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE event_name = ? AND event_key = ? "
                "AND event_time >= ? AND event_time <= ? ORDER BY event_time, seq",
                (
                    subscription.event_name,
                    subscription.event_key,
                    to_micros(subscription.subscribe_as_of),
                    to_micros(now),
                ),
            )
            taken = first_taken(
                subscription, (event_from_row(r) for r in candidates), now, consumed_on(subscription)
            )
            if taken is not None:
                apply(subscription, taken)
    return outcomes
