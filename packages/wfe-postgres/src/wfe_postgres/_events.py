"""Subscriptions and events of ``PostgresPersistence``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row

from wfe_core.errors import EventNotFoundError, PersistenceError, SubscriptionNotFoundError
from wfe_core.models import Event, EventSubscription
from wfe_postgres._failures import wrapped
from wfe_postgres._provider import PostgresProvider, utc
from wfe_postgres._rows import _event, _event_lock, _event_params, _subscription, _subscription_params
from wfe_postgres._sql import (
    _CLOSE_SUBSCRIPTION,
    _EVENT_COLUMNS,
    _INSERT_EVENT_FROM_L,
    _INSERT_SUBSCRIPTION,
    _SUBSCRIPTION_COLUMNS,
)


class _EventsAndSubscriptions(PostgresProvider):
    """The part of ``PostgresPersistence`` that stores subscriptions and events."""

    async def create_subscription(self, subscription: EventSubscription) -> str:
        """Store a subscription (keeping its id) and return the id."""
        with wrapped(PersistenceError, "create_subscription"):
            async with self._pool.connection() as conn:
                await conn.execute(self._layout.q(_INSERT_SUBSCRIPTION), _subscription_params(subscription))
        return subscription.id

    async def _subscriptions(
        self, where: str, params: Sequence[Any], tail: str = ""
    ) -> list[EventSubscription]:
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                self._layout.q(
                    f"SELECT {_SUBSCRIPTION_COLUMNS} FROM {{event_subscriptions}} WHERE {where} {tail}"
                ),
                params,
            )
            return [_subscription(r) for r in await cur.fetchall()]

    async def get_subscription(self, subscription_id: str) -> EventSubscription:
        """The subscription (open or terminated); ``SubscriptionNotFoundError`` when unknown."""
        with wrapped(PersistenceError, "get_subscription"):
            found = await self._subscriptions("id = %s", (subscription_id,))
        if not found:
            raise SubscriptionNotFoundError(subscription_id)
        return found[0]

    async def get_subscriptions(
        self, event_name: str, event_key: str, as_of: datetime
    ) -> list[EventSubscription]:
        """Open subscriptions on name and key with ``subscribe_as_of <= as_of``, oldest first."""
        with wrapped(PersistenceError, "get_subscriptions"):
            return await self._subscriptions(
                "NOT terminated AND event_name = %s AND event_key = %s AND subscribe_as_of <= %s",
                (event_name, event_key, utc(as_of)),
                "ORDER BY subscribe_as_of, seq",
            )

    async def terminate_subscription(self, subscription_id: str, *, event_id: str | None = None) -> None:
        """Close the subscription, recording the event that satisfied it; closing it again keeps the first."""
        with wrapped(PersistenceError, "terminate_subscription"):
            async with self._pool.connection() as conn:
                await conn.execute(self._layout.q(_CLOSE_SUBSCRIPTION), (event_id, subscription_id))

    async def get_consumed_event_ids(self, workflow_id: str, event_name: str, event_key: str) -> set[str]:
        """Ids of events with this name and key already delivered to this instance."""
        with wrapped(PersistenceError, "get_consumed_event_ids"):
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    self._layout.q(
                        "SELECT consumed_event_id FROM {event_subscriptions} WHERE workflow_id = %s"
                        " AND event_name = %s AND event_key = %s AND consumed_event_id IS NOT NULL"
                    ),
                    (workflow_id, event_name, event_key),
                )
                return {r[0] for r in await cur.fetchall()}

    async def get_first_open_subscription(
        self, event_name: str, event_key: str, as_of: datetime
    ) -> EventSubscription | None:
        """The oldest open subscription on name and key whose token is unset or expired at ``as_of``."""
        with wrapped(PersistenceError, "get_first_open_subscription"):
            found = await self._subscriptions(
                "NOT terminated AND event_name = %s AND event_key = %s AND subscribe_as_of <= %s"
                " AND (external_token IS NULL OR external_token_expiry <= %s)",
                (event_name, event_key, utc(as_of), utc(as_of)),
                "ORDER BY subscribe_as_of, seq LIMIT 1",
            )
        return found[0] if found else None

    async def set_subscription_token(
        self, subscription_id: str, token: str, worker_id: str, expiry: datetime, *, now: datetime
    ) -> bool:
        """Lease the subscription to a worker: compare-and-set in one UPDATE."""
        with wrapped(PersistenceError, "set_subscription_token"):
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    self._layout.q(
                        "UPDATE {event_subscriptions} SET external_token = %s, external_worker_id = %s,"
                        " external_token_expiry = %s WHERE id = %s AND NOT terminated"
                        " AND (external_token IS NULL OR external_token_expiry <= %s)"
                    ),
                    (token, worker_id, utc(expiry), subscription_id, utc(now)),
                )
                return cur.rowcount == 1

    async def clear_subscription_token(self, subscription_id: str, token: str) -> None:
        """Drop the lease; ``SubscriptionNotFoundError`` when unknown or holding another token."""
        with wrapped(PersistenceError, "clear_subscription_token"):
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    self._layout.q(
                        "UPDATE {event_subscriptions} SET external_token = NULL, external_worker_id = NULL,"
                        " external_token_expiry = NULL WHERE id = %s AND external_token = %s"
                    ),
                    (subscription_id, token),
                )
                cleared = cur.rowcount == 1
        if not cleared:
            raise SubscriptionNotFoundError(subscription_id, "unknown, or leased with another token")

    # -- events ------------------------------------------------------------------------------------------

    async def create_event(self, event: Event) -> str:
        """Store an event (keeping its id) and return the id."""
        with wrapped(PersistenceError, "create_event"):
            async with self._pool.connection() as conn:
                # The transaction lock on the name and key orders this insert with a write storing a
                # subscription on them (see persist_workflow); it is held until this statement commits.
                await conn.execute(
                    self._layout.q("WITH l AS (SELECT pg_advisory_xact_lock(%s)) " + _INSERT_EVENT_FROM_L),
                    (_event_lock(event.event_name, event.event_key), *_event_params(event)),
                )
        return event.id

    async def get_event(self, event_id: str) -> Event:
        """The event; ``EventNotFoundError`` when unknown."""
        with wrapped(PersistenceError, "get_event"):
            async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(
                    self._layout.q("SELECT " + _EVENT_COLUMNS + " FROM {events} WHERE id = %s"), (event_id,)
                )
                row = await cur.fetchone()
        if row is None:
            raise EventNotFoundError(event_id)
        return _event(row)

    async def _event_ids(self, action: str, where: str, params: Sequence[Any]) -> list[str]:
        with wrapped(PersistenceError, action):
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    self._layout.q(f"SELECT id FROM {{events}} WHERE {where} ORDER BY event_time, seq"),
                    params,
                )
                return [r[0] for r in await cur.fetchall()]

    async def get_runnable_events(self, as_at: datetime) -> list[str]:
        """Ids of unprocessed events with ``event_time <= as_at``, oldest first."""
        return await self._event_ids(
            "get_runnable_events", "NOT is_processed AND event_time <= %s", (utc(as_at),)
        )

    async def get_events(self, event_name: str, event_key: str, as_of: datetime) -> list[str]:
        """Ids of events on name and key with ``event_time >= as_of``, processed or not, oldest first."""
        return await self._event_ids(
            "get_events",
            "event_name = %s AND event_key = %s AND event_time >= %s",
            (event_name, event_key, utc(as_of)),
        )

    async def _set_processed(self, event_id: str, processed: bool) -> None:
        with wrapped(PersistenceError, "marking an event"):
            async with self._pool.connection() as conn:
                await conn.execute(
                    self._layout.q("UPDATE {events} SET is_processed = %s WHERE id = %s"),
                    (processed, event_id),
                )

    async def mark_event_processed(self, event_id: str) -> None:
        """Set ``is_processed``. Idempotent."""
        await self._set_processed(event_id, True)

    async def mark_event_unprocessed(self, event_id: str) -> None:
        """Clear ``is_processed``. Idempotent."""
        await self._set_processed(event_id, False)

    async def purge_events(self, older_than: datetime) -> int:
        """Delete processed events with ``event_time < older_than``; return how many."""
        with wrapped(PersistenceError, "purge_events"):
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    self._layout.q("DELETE FROM {events} WHERE is_processed AND event_time < %s"),
                    (utc(older_than),),
                )
                return cur.rowcount
