"""The part of ``PostgresPersistence`` that keeps the slots of queues with limits (``QueueSlotStore``)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from wfe_core.errors import PersistenceError
from wfe_core.models import QueueState, SlotDecision, SlotRequest
from wfe_core.slot_decisions import Waiter, decide, serving_order
from wfe_postgres._arrays import text_array
from wfe_postgres._failures import wrapped
from wfe_postgres._provider import PostgresProvider, utc

# The deletes and the selects see the same snapshot, so the selects filter out what the deletes remove.
_READ = (
    "WITH a AS (DELETE FROM {queue_slots} WHERE queue = %s AND expires_at <= %s),"
    " b AS (DELETE FROM {queue_waiters} WHERE queue = %s AND live_until <= %s),"
    " c AS (DELETE FROM {queue_starts} WHERE queue = %s AND at <= %s)"
    " SELECT 's', workflow_id, expires_at, NULL::int, NULL::timestamptz FROM {queue_slots}"
    " WHERE queue = %s AND expires_at > %s"
    " UNION ALL SELECT 'w', workflow_id, since, priority, live_until FROM {queue_waiters}"
    " WHERE queue = %s AND live_until > %s"
    " UNION ALL SELECT 't', NULL, at, NULL, NULL FROM {queue_starts} WHERE queue = %s AND at > %s"
)
_GRANT = (
    "WITH a AS (INSERT INTO {queue_slots} (queue, workflow_id, token, expires_at) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (queue, workflow_id) DO UPDATE SET token = EXCLUDED.token, expires_at = EXCLUDED.expires_at),"
    " b AS (DELETE FROM {queue_waiters} WHERE queue = %s AND workflow_id = %s)"
    " INSERT INTO {queue_starts} (queue, at) SELECT %s, %s WHERE %s"
)
_WAIT = (
    "INSERT INTO {queue_waiters} (queue, workflow_id, priority, since, live_until) VALUES (%s, %s, %s, %s, %s)"
    " ON CONFLICT (queue, workflow_id) DO UPDATE SET priority = EXCLUDED.priority,"
    " live_until = EXCLUDED.live_until"
)


class _QueueSlots(PostgresProvider):
    """Slots, waiters and recent starts of each queue in three tables; each decision is one transaction
    under a transaction-scoped advisory lock of its queue, so the hosts sharing the database decide one
    after the other."""

    def _queue_lock_key(self, queue: str) -> int:
        layout = self._layout
        digest = hashlib.blake2b(
            f"wfe-queue:{layout.schema}:{layout.table_prefix}:{queue}".encode(), digest_size=8
        )
        return int.from_bytes(digest.digest(), "big", signed=True)

    async def _waiters(self, conn: AsyncConnection[Any], queue: str) -> list[Waiter]:
        cur = await conn.execute(
            self._layout.q(
                "SELECT workflow_id, priority, since, live_until FROM {queue_waiters} WHERE queue = %s"
            ),
            (queue,),
        )
        return [Waiter(w, p, utc(since), utc(until)) for w, p, since, until in await cur.fetchall()]

    async def acquire_queue_slot(self, request: SlotRequest) -> SlotDecision:
        q = self._layout.q
        queue = request.queue
        with wrapped(PersistenceError, "acquire_queue_slot"):
            async with self._pool.connection() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._queue_lock_key(queue),))
                request = request.at_decision()  # under the queue's lock: decisions are in time order
                now = utc(request.now)
                since = None if request.rate_limit is None else now - request.rate_limit[1]
                # one round trip: what lapsed goes, and what is left comes back
                cur = await conn.execute(
                    q(_READ), (queue, now, queue, now, queue, since, queue, now, queue, now, queue, since)
                )
                holders: dict[str, datetime] = {}
                starts: list[datetime] = []
                waiters: list[Waiter] = []
                for kind, workflow_id, at, priority, live_until in await cur.fetchall():
                    if kind == "s":
                        holders[workflow_id] = utc(at)
                    elif kind == "w":
                        waiters.append(Waiter(workflow_id, priority, utc(at), utc(live_until)))
                    else:
                        starts.append(utc(at))
                decision = decide(request, holders, starts, waiters)
                if decision.granted:
                    await conn.execute(
                        q(_GRANT),
                        (
                            queue,
                            request.workflow_id,
                            request.token,
                            utc(request.expires_at),
                            queue,
                            request.workflow_id,
                            queue,
                            now,
                            request.rate_limit is not None,
                        ),
                    )
                else:
                    await conn.execute(
                        q(_WAIT),
                        (queue, request.workflow_id, request.priority, now, now + request.waiter_ttl),
                    )
        return decision

    async def renew_queue_slots(self, tokens: Sequence[str], now: datetime, until: datetime) -> list[str]:
        if not tokens:
            return []
        with wrapped(PersistenceError, "renew_queue_slots"):
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    self._layout.q(
                        "UPDATE {queue_slots} SET expires_at = %s WHERE token = ANY(%s::text[])"
                        " AND expires_at > %s"
                        " RETURNING token"
                    ),
                    (utc(until), text_array(tokens), utc(now)),
                )
                return [token for (token,) in await cur.fetchall()]

    async def release_queue_slot(self, token: str) -> None:
        with wrapped(PersistenceError, "release_queue_slot"):
            async with self._pool.connection() as conn:
                await conn.execute(self._layout.q("DELETE FROM {queue_slots} WHERE token = %s"), (token,))

    async def queue_state(self, queue: str, now: datetime) -> QueueState:
        with wrapped(PersistenceError, "queue_state"):
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    self._layout.q(
                        "SELECT workflow_id FROM {queue_slots} WHERE queue = %s AND expires_at > %s"
                        " ORDER BY workflow_id"
                    ),
                    (queue, utc(now)),
                )
                held = [w for (w,) in await cur.fetchall()]
                waiters = await self._waiters(conn, queue)
        return QueueState(held=held, waiting=serving_order(waiters, utc(now)))
