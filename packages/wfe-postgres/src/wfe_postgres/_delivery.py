"""Instance writes that deliver events: one transaction that reads the subscriptions and events it takes,
and the outcome of fenced writes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from wfe_core.delivery import Applied, adopt, apply_delivery, delivered, first_taken, written_pointers
from wfe_core.errors import LeaseLostError, PersistenceError, WorkflowNotFoundError
from wfe_core.models import Delivery, Event, EventSubscription, ExecutionPointer, WorkflowInstance
from wfe_core.write_guard import still_held, write_guard
from wfe_postgres._arrays import text_array
from wfe_postgres._failures import wrapped
from wfe_postgres._provider import PostgresProvider, utc
from wfe_postgres._rows import _event, _event_lock, _event_params, _row_write, _rows_json, _subscription
from wfe_postgres._sql import (
    _CLOSE_SUBSCRIPTION,
    _EVENT_COLUMNS,
    _EVENT_PREFIX,
    _INSERT_EVENT,
    _PERSIST_WORKFLOWS,
    _SELECT_DELIVERY,
)


class _DeliveringWrites(PostgresProvider):
    """The part of ``PostgresPersistence`` that writes an instance with the event deliveries it makes."""

    async def _outcomes(
        self, conn: AsyncConnection[Any], fenced: Sequence[tuple[str, int | None]], done: set[str]
    ) -> list[BaseException | None]:
        """Each fenced write's outcome: None when its instance was among ``done``, otherwise why its fenced
        update matched no row (the instance does not exist, or a newer fence was stored)."""
        refused = [workflow_id for workflow_id, _ in fenced if workflow_id not in done]
        stored: dict[str, int] = {}
        if refused:
            cur = await conn.execute(
                self._layout.q("SELECT id, fence FROM {workflows} WHERE id = ANY(%s::text[])"),
                (text_array(refused),),
            )
            stored = {row[0]: row[1] for row in await cur.fetchall()}
        outcomes: list[BaseException | None] = []
        for workflow_id, fence in fenced:
            if workflow_id in done:
                outcomes.append(None)
            elif workflow_id not in stored:
                outcomes.append(WorkflowNotFoundError(workflow_id))
            else:
                outcomes.append(
                    LeaseLostError(
                        workflow_id,
                        f"write with fence {fence} refused: the store already accepted fence {stored[workflow_id]}",
                    )
                )
        return outcomes

    async def _persist_delivering(
        self,
        instance: WorkflowInstance,
        pointers: Sequence[ExecutionPointer] | None,
        subscriptions: Sequence[EventSubscription],
        deliveries: Sequence[Delivery],
        events: Sequence[Event],
        now: datetime | None,
        fence: int | None,
    ) -> list[Delivery]:
        q = self._layout.q
        keys = {(s.event_name, s.event_key) for s in subscriptions} | {
            (e.event_name, e.event_key) for e in events
        }
        guard = None if fence is None else write_guard()
        with wrapped(PersistenceError, "persist_workflow"):
            async with self._pool.connection() as conn, conn.transaction():
                for name, key in sorted(keys):  # always in one order: two writers never deadlock
                    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_event_lock(name, key),))
                outcomes = (
                    [] if now is None else await self._deliver(conn, instance, subscriptions, deliveries, now)
                )
                due = now if any(o.pointer is not None for o in outcomes) else instance.next_execution
                write = _row_write(
                    instance,
                    written_pointers(instance, pointers, outcomes),
                    subscriptions,
                    fence,
                    next_execution=due,
                )
                # after the transaction locks and reads, which a frozen host may have waited on: the lease
                # check just before the fenced write is sent (a refusal rolls the transaction back)
                refusal = still_held(guard)
                if refusal is not None:
                    raise refusal
                cur = await conn.execute(q(_PERSIST_WORKFLOWS), (_rows_json([write]),))
                done = {row[0] for row in await cur.fetchall()}
                (refused,) = await self._outcomes(conn, [(write.workflow_id, fence)], done)
                if refused is not None:
                    raise refused  # rolls the transaction back
                async with conn.cursor() as cur:
                    if outcomes:
                        await cur.executemany(
                            q(_CLOSE_SUBSCRIPTION),
                            [(o.consumed_event_id, o.subscription_id) for o in outcomes],
                        )
                    if events:
                        await cur.executemany(q(_INSERT_EVENT), [_event_params(e) for e in events])
        if now is not None:
            adopt(instance, outcomes, now)
        return delivered(outcomes)

    async def _deliver(
        self,
        conn: AsyncConnection[Any],
        instance: WorkflowInstance,
        subscriptions: Sequence[EventSubscription],
        deliveries: Sequence[Delivery],
        now: datetime,
    ) -> list[Applied]:
        """The deliveries applicable to ``instance`` and the events its new subscriptions take, read inside the
        writing transaction."""
        q = self._layout.q
        outcomes: list[Applied] = []
        consumed: dict[tuple[str, str], set[str]] = {}
        async with conn.cursor(row_factory=dict_row) as cur:

            async def consumed_on(subscription: EventSubscription) -> set[str]:
                key = (subscription.event_name, subscription.event_key)
                if key not in consumed:
                    await cur.execute(
                        q(
                            "SELECT consumed_event_id FROM {event_subscriptions} WHERE workflow_id = %s"
                            " AND event_name = %s AND event_key = %s AND consumed_event_id IS NOT NULL"
                        ),
                        (instance.id, *key),
                    )
                    consumed[key] = {r["consumed_event_id"] for r in await cur.fetchall()}
                return consumed[key]

            async def apply(subscription: EventSubscription, event: Event) -> None:
                outcome = apply_delivery(instance, subscription, event)
                outcomes.append(outcome)
                if outcome.pointer is not None:
                    (await consumed_on(subscription)).add(event.id)

            for delivery in deliveries:
                await cur.execute(
                    q(_SELECT_DELIVERY), (instance.id, delivery.event_id, delivery.subscription_id)
                )
                row = await cur.fetchone()
                if row is None:
                    continue
                subscription = _subscription(row)
                if subscription.workflow_id != instance.id:
                    continue
                # what this instance consumed on the subscription's name and key (this write's own deliveries
                # included, once it made some)
                key = (subscription.event_name, subscription.event_key)
                if delivery.event_id in consumed.setdefault(key, set(row["consumed"])):
                    continue
                event_row = {
                    name.removeprefix(_EVENT_PREFIX): value
                    for name, value in row.items()
                    if name.startswith(_EVENT_PREFIX)
                }
                await apply(subscription, _event(event_row))
            for subscription in subscriptions:
                await cur.execute(
                    q(
                        "SELECT " + _EVENT_COLUMNS + " FROM {events} WHERE event_name = %s AND event_key = %s"
                        " AND event_time >= %s AND event_time <= %s ORDER BY event_time, seq"
                    ),
                    (
                        subscription.event_name,
                        subscription.event_key,
                        utc(subscription.subscribe_as_of),
                        utc(now),
                    ),
                )
                candidates = [_event(r) for r in await cur.fetchall()]
                taken = first_taken(subscription, candidates, now, await consumed_on(subscription))
                if taken is not None:
                    await apply(subscription, taken)
        return outcomes
