"""Subscriptions and events of ``SqlitePersistence``."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from wfe_core.errors import EventNotFoundError, SubscriptionNotFoundError
from wfe_core.models import Event, EventSubscription
from wfe_sqlite._codec import to_micros
from wfe_sqlite._provider import _SqliteProvider
from wfe_sqlite._rows import (
    EVENT_COLUMNS,
    event_from_row,
    event_values,
    subscription_from_row,
    subscription_values,
)
from wfe_sqlite._sql import _CLOSE_SUBSCRIPTION, _INSERT_EVENT, _INSERT_SUBSCRIPTION, _SELECT_SUBSCRIPTION


class _EventStore(_SqliteProvider):
    """The part of ``SqlitePersistence`` that stores subscriptions and events."""

    async def create_subscription(self, subscription: EventSubscription) -> str:
        values = subscription_values(subscription)
        await self._write(lambda conn: conn.execute(_INSERT_SUBSCRIPTION, values), "create subscription")
        return subscription.id

    async def get_subscription(self, subscription_id: str) -> EventSubscription:
        def load(conn: sqlite3.Connection) -> Any:
            return conn.execute(f"{_SELECT_SUBSCRIPTION} WHERE id = ?", (subscription_id,)).fetchone()

        row = await self._read(load, "get subscription")
        if row is None:
            raise SubscriptionNotFoundError(subscription_id)
        return subscription_from_row(row)

    async def get_subscriptions(
        self, event_name: str, event_key: str, as_of: datetime
    ) -> list[EventSubscription]:
        params = (event_name, event_key, to_micros(as_of))

        def load(conn: sqlite3.Connection) -> list[Any]:
            return conn.execute(
                f"{_SELECT_SUBSCRIPTION} WHERE event_name = ? AND event_key = ? AND subscribe_as_of <= ? "
                "AND terminated = 0 ORDER BY subscribe_as_of, seq",
                params,
            ).fetchall()

        return [subscription_from_row(row) for row in await self._read(load, "get subscriptions")]

    async def terminate_subscription(self, subscription_id: str, *, event_id: str | None = None) -> None:
        await self._write(
            lambda conn: conn.execute(_CLOSE_SUBSCRIPTION, (event_id, subscription_id)),
            "terminate subscription",
        )

    async def get_consumed_event_ids(self, workflow_id: str, event_name: str, event_key: str) -> set[str]:
        params = (workflow_id, event_name, event_key)

        def load(conn: sqlite3.Connection) -> set[str]:
            rows = conn.execute(
                "SELECT consumed_event_id FROM event_subscriptions WHERE workflow_id = ? AND event_name = ? "
                "AND event_key = ? AND consumed_event_id IS NOT NULL",
                params,
            ).fetchall()
            return {r[0] for r in rows}

        result: set[str] = await self._read(load, "get consumed event ids")
        return result

    async def get_first_open_subscription(
        self, event_name: str, event_key: str, as_of: datetime
    ) -> EventSubscription | None:
        at = to_micros(as_of)
        params = (event_name, event_key, at, at)

        def load(conn: sqlite3.Connection) -> Any:
            return conn.execute(
                f"{_SELECT_SUBSCRIPTION} WHERE event_name = ? AND event_key = ? AND subscribe_as_of <= ? "
                "AND terminated = 0 AND (external_token IS NULL OR external_token_expiry <= ?) "
                "ORDER BY subscribe_as_of, seq LIMIT 1",
                params,
            ).fetchone()

        row = await self._read(load, "get first open subscription")
        return None if row is None else subscription_from_row(row)

    async def set_subscription_token(
        self, subscription_id: str, token: str, worker_id: str, expiry: datetime, *, now: datetime
    ) -> bool:
        at = to_micros(now)
        params = (token, worker_id, to_micros(expiry), subscription_id, at)

        def lease(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE event_subscriptions SET external_token = ?, external_worker_id = ?, "
                "external_token_expiry = ? WHERE id = ? AND terminated = 0 AND "
                "(external_token IS NULL OR external_token_expiry IS NULL OR external_token_expiry <= ?)",
                params,
            )
            return bool(cursor.rowcount == 1)

        result: bool = await self._write(lease, "set subscription token")
        return result

    async def clear_subscription_token(self, subscription_id: str, token: str) -> None:
        def clear(conn: sqlite3.Connection) -> int:
            return int(
                conn.execute(
                    "UPDATE event_subscriptions SET external_token = NULL, external_worker_id = NULL, "
                    "external_token_expiry = NULL WHERE id = ? AND external_token = ?",
                    (subscription_id, token),
                ).rowcount
            )

        if await self._write(clear, "clear subscription token") == 0:
            raise SubscriptionNotFoundError(subscription_id, "unknown, or leased with another token")

    # -- events ------------------------------------------------------------------------------------------

    async def create_event(self, event: Event) -> str:
        values = event_values(event)
        await self._write(
            lambda conn: conn.execute(_INSERT_EVENT, values),
            "create event",
        )
        return event.id

    async def get_event(self, event_id: str) -> Event:
        def load(conn: sqlite3.Connection) -> Any:
            return conn.execute(f"SELECT {EVENT_COLUMNS} FROM events WHERE id = ?", (event_id,)).fetchone()

        row = await self._read(load, "get event")
        if row is None:
            raise EventNotFoundError(event_id)
        return event_from_row(row)

    async def get_runnable_events(self, as_at: datetime) -> list[str]:
        limit = to_micros(as_at)

        def load(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT id FROM events WHERE is_processed = 0 AND event_time <= ? ORDER BY event_time, seq",
                (limit,),
            ).fetchall()
            return [r[0] for r in rows]

        result: list[str] = await self._read(load, "get runnable events")
        return result

    async def get_events(self, event_name: str, event_key: str, as_of: datetime) -> list[str]:
        params = (event_name, event_key, to_micros(as_of))

        def load(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT id FROM events WHERE event_name = ? AND event_key = ? AND event_time >= ? "
                "ORDER BY event_time, seq",
                params,
            ).fetchall()
            return [r[0] for r in rows]

        result: list[str] = await self._read(load, "get events")
        return result

    async def mark_event_processed(self, event_id: str) -> None:
        await self._write(
            lambda conn: conn.execute("UPDATE events SET is_processed = 1 WHERE id = ?", (event_id,)),
            "mark event processed",
        )

    async def mark_event_unprocessed(self, event_id: str) -> None:
        await self._write(
            lambda conn: conn.execute("UPDATE events SET is_processed = 0 WHERE id = ?", (event_id,)),
            "mark event unprocessed",
        )

    async def purge_events(self, older_than: datetime) -> int:
        limit = to_micros(older_than)

        def purge(conn: sqlite3.Connection) -> int:
            return int(
                conn.execute(
                    "DELETE FROM events WHERE is_processed = 1 AND event_time < ?", (limit,)
                ).rowcount
            )

        result: int = await self._write(purge, "purge events")
        return result
