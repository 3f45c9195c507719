"""The part of ``SqlitePersistence`` that keeps the slots of queues with limits (``QueueSlotStore``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from wfe_core.models import QueueState, SlotDecision, SlotRequest
from wfe_core.slot_decisions import Waiter, decide, serving_order
from wfe_sqlite._codec import from_micros, to_micros
from wfe_sqlite._provider import _SqliteProvider


def _waiters(conn: sqlite3.Connection, queue: str) -> list[Waiter]:
    rows = conn.execute(
        "SELECT workflow_id, priority, since, live_until FROM queue_waiters WHERE queue = ?", (queue,)
    ).fetchall()
    return [Waiter(w, p, from_micros(since), from_micros(until)) for w, p, since, until in rows]


class _QueueSlots(_SqliteProvider):
    """Slots, waiters and recent starts of each queue in three tables; every decision is one write
    transaction, so the hosts of every process on the file decide one after the other."""

    async def acquire_queue_slot(self, request: SlotRequest) -> SlotDecision:
        asked = request

        def acquire(conn: sqlite3.Connection) -> SlotDecision:
            request = asked.at_decision()  # inside the write transaction: decisions are in time order
            now = to_micros(request.now)
            queue = request.queue
            conn.execute("DELETE FROM queue_slots WHERE queue = ? AND expires_at <= ?", (queue, now))
            conn.execute("DELETE FROM queue_waiters WHERE queue = ? AND live_until <= ?", (queue, now))
            starts: list[datetime] = []
            if request.rate_limit is not None:
                since = to_micros(request.now - request.rate_limit[1])
                conn.execute("DELETE FROM queue_starts WHERE queue = ? AND at <= ?", (queue, since))
                starts = [
                    from_micros(at)
                    for (at,) in conn.execute("SELECT at FROM queue_starts WHERE queue = ?", (queue,))
                ]
            holders = {
                w: from_micros(expires)
                for w, expires in conn.execute(
                    "SELECT workflow_id, expires_at FROM queue_slots WHERE queue = ?", (queue,)
                )
            }
            decision = decide(request, holders, starts, _waiters(conn, queue))
            if decision.granted:
                conn.execute(
                    "INSERT INTO queue_slots (queue, workflow_id, token, expires_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (queue, workflow_id) DO UPDATE SET token = excluded.token, "
                    "expires_at = excluded.expires_at",
                    (queue, request.workflow_id, request.token, to_micros(request.expires_at)),
                )
                conn.execute(
                    "DELETE FROM queue_waiters WHERE queue = ? AND workflow_id = ?",
                    (queue, request.workflow_id),
                )
                if request.rate_limit is not None:
                    conn.execute("INSERT INTO queue_starts (queue, at) VALUES (?, ?)", (queue, now))
            else:
                conn.execute(
                    "INSERT INTO queue_waiters (queue, workflow_id, priority, since, live_until) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (queue, workflow_id) DO UPDATE SET "
                    "priority = excluded.priority, live_until = excluded.live_until",
                    (
                        queue,
                        request.workflow_id,
                        request.priority,
                        now,
                        to_micros(request.now + request.waiter_ttl),
                    ),
                )
            return decision

        result: SlotDecision = await self._write(acquire, "acquire queue slot")
        return result

    async def renew_queue_slots(self, tokens: Sequence[str], now: datetime, until: datetime) -> list[str]:
        wanted = list(tokens)
        if not wanted:
            return []

        def renew(conn: sqlite3.Connection) -> list[str]:
            renewed = []
            for token in wanted:
                cur = conn.execute(
                    "UPDATE queue_slots SET expires_at = ? WHERE token = ? AND expires_at > ?",
                    (to_micros(until), token, to_micros(now)),
                )
                if cur.rowcount:
                    renewed.append(token)
            return renewed

        result: list[str] = await self._write(renew, "renew queue slots")
        return result

    async def release_queue_slot(self, token: str) -> None:
        def release(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM queue_slots WHERE token = ?", (token,))

        await self._write(release, "release queue slot")

    async def queue_state(self, queue: str, now: datetime) -> QueueState:
        def read(conn: sqlite3.Connection) -> QueueState:
            held = [
                w
                for (w,) in conn.execute(
                    "SELECT workflow_id FROM queue_slots WHERE queue = ? AND expires_at > ? ORDER BY workflow_id",
                    (queue, to_micros(now)),
                )
            ]
            return QueueState(held=held, waiting=serving_order(_waiters(conn, queue), now))

        result: QueueState = await self._read(read, "read queue state")
        return result
