"""``PostgresQueue``: work queues in a table, taken with SKIP LOCKED, woken by LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
from collections.abc import Sequence
from typing import ClassVar

import psycopg
from psycopg import sql

from wfe_core.errors import ProviderError, QueueError
from wfe_core.models import QueueItem, QueueType
from wfe_core.option_values import seconds_option
from wfe_postgres._arrays import text_array
from wfe_postgres._failures import wrapped
from wfe_postgres._group_commit import GroupCommit
from wfe_postgres._pools import PoolHandle
from wfe_postgres._provider import PostgresProvider

logger = logging.getLogger(__name__)

# Enqueues asked for together share one statement: every item inserted, each queue's channel notified once.
_ENQUEUE = (
    "WITH ins AS (INSERT INTO {queue} (queue, item_id) SELECT * FROM unnest(%s::text[], %s::text[])"
    " ON CONFLICT (queue, item_id) WHERE receipt IS NULL DO NOTHING)"
    " SELECT pg_notify(c, '') FROM unnest(%s::text[]) AS c"
)
_ACK = (
    "DELETE FROM {queue} AS q USING unnest(%s::text[], %s::text[]) AS u(receipt, queue)"
    " WHERE q.receipt = u.receipt AND q.queue = u.queue AND q.visible_at > clock_timestamp()"
)
# Waiting rows are visible from their enqueue; a taken row becomes visible again when its visibility timeout
# lapses (its taker died), keeping its place in the FIFO order.
_DEQUEUE = (
    "UPDATE {queue} SET receipt = %s, deliveries = deliveries + 1,"
    " visible_at = clock_timestamp() + make_interval(secs => %s)"
    " WHERE seq = (SELECT seq FROM {queue} WHERE queue = %s AND visible_at <= clock_timestamp()"
    " ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)"
    " RETURNING item_id"
)


class PostgresQueue(PostgresProvider):
    """At-least-once queues of ids in PostgreSQL, shared by many hosts.

    ``dequeue`` claims the oldest visible row with ``FOR UPDATE SKIP LOCKED`` and hides it for
    ``visibility_timeout`` seconds; ``ack`` deletes it. An idle ``dequeue`` waits on a LISTEN connection of
    its own, so an enqueue on any host wakes it at once; it also polls every ``poll_interval`` seconds, for
    items whose visibility timeout lapsed and for the time the LISTEN connection is down.
    """

    _error: ClassVar[type[ProviderError]] = QueueError
    _url_float_options: ClassVar[tuple[str, ...]] = ("visibility_timeout", "poll_interval")

    def __init__(
        self,
        pool: PoolHandle,
        *,
        schema: str = "wfe",
        table_prefix: str = "",
        visibility_timeout: float = 300.0,
        poll_interval: float = 1.0,
    ) -> None:
        super().__init__(pool, schema=schema, table_prefix=table_prefix)
        visibility_timeout = seconds_option("PostgreSQL queue", "visibility_timeout", visibility_timeout)
        poll_interval = seconds_option("PostgreSQL queue", "poll_interval", poll_interval)
        self._visibility_timeout = visibility_timeout
        self._poll_interval = poll_interval
        self._channels = {q: self._layout.channel(f"q_{q.value}") for q in QueueType}
        self._queue_of_channel = {c: q for q, c in self._channels.items()}
        self._waiters: dict[QueueType, set[asyncio.Future[None]]] = {q: set() for q in QueueType}
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._stops = 0

    @property
    def is_dequeue_blocking(self) -> bool:
        """True: ``dequeue`` waits up to its timeout for an item."""
        return True

    @property
    def visibility_timeout(self) -> float:
        """Seconds a dequeued item stays invisible before it is delivered again."""
        return self._visibility_timeout

    async def start(self) -> None:
        """Create the tables if needed and start listening for enqueues. Idempotent."""
        await self._ensure_schema()
        if self._listener is None or self._listener.done():
            self._listening.clear()
            self._listener = asyncio.create_task(self._listen(), name=f"wfe-postgres-listen-{self.schema}")
            # Give the LISTEN a moment so an enqueue right after start() is heard; polling covers the rest.
            # (asyncio.wait, not wait_for: before Python 3.12 wait_for can drop a cancellation.)
            listening = asyncio.ensure_future(self._listening.wait())
            try:
                await asyncio.wait(
                    {listening, self._listener}, timeout=5.0, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                listening.cancel()

    async def stop(self) -> None:
        """Stop listening and give the pool back once the writes handed over are done. Idempotent; waiting and
        taken items stay in the table."""
        self._stops += 1
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        self._wake_all()
        await self._release_pool()

    async def enqueue(self, queue: QueueType, item_id: str) -> None:
        """Add ``item_id`` unless it is already waiting in ``queue``, and notify every listening host.

        Enqueues asked for at the same time share one statement."""
        if not self._schema_ready():
            with wrapped(QueueError, "enqueue"):
                await self._ensure_schema()
        await self._enqueues.write((queue, item_id), (queue, item_id))

    @functools.cached_property
    def _enqueues(self) -> GroupCommit[tuple[QueueType, str], None]:
        return GroupCommit(self._enqueue_batch)

    async def _enqueue_batch(self, items: Sequence[tuple[QueueType, str]]) -> list[None | BaseException]:
        channels = sorted({self._channels[queue] for queue, _ in items})
        with wrapped(QueueError, "enqueue"):
            async with self._pool.connection() as conn:
                await conn.execute(
                    self._layout.q(_ENQUEUE),
                    (
                        text_array([queue.value for queue, _ in items]),
                        text_array([item_id for _, item_id in items]),
                        text_array(channels),
                    ),
                )
        return [None] * len(items)

    # The protocol names the wait ``timeout``; the deadline is enforced inside.
    async def dequeue(self, queue: QueueType, *, timeout: float = 1.0) -> QueueItem | None:  # noqa: ASYNC109
        """Take the oldest visible item of ``queue``, waiting up to ``timeout`` seconds for one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout, 0.0)
        if self._listener is None:
            await self.start()
        stops = self._stops
        while True:
            if self._stops != stops:
                return None  # stopped while waiting: take nothing more
            # Register before looking, so a NOTIFY arriving between the look and the wait is not lost.
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters[queue].add(waiter)
            try:
                item = await self._take(queue)
                if item is not None:
                    return item
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return None
                await asyncio.wait({waiter}, timeout=min(remaining, self._poll_interval))
            finally:
                self._waiters[queue].discard(waiter)

    async def _take(self, queue: QueueType) -> QueueItem | None:
        receipt = uuid.uuid4().hex
        with wrapped(QueueError, "dequeue"):
            if not self._schema_ready():
                await self._ensure_schema()
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    self._layout.q(_DEQUEUE), (receipt, self._visibility_timeout, queue.value)
                )
                row = await cur.fetchone()
        return None if row is None else QueueItem(queue=queue, item_id=row[0], receipt=receipt)

    async def ack(self, item: QueueItem) -> None:
        """Delete the delivery ``item`` while its visibility timeout runs.

        A no-op when it was acked already or has lapsed: a lapsed item belongs to its next taker, and is
        delivered again even if this taker finished after all (delivery is at-least-once). Acks asked for at
        the same time share one statement.
        """
        await self._acks.write(item, item.receipt)

    @functools.cached_property
    def _acks(self) -> GroupCommit[QueueItem, None]:
        return GroupCommit(self._ack_batch)

    async def _ack_batch(self, items: Sequence[QueueItem]) -> list[None | BaseException]:
        with wrapped(QueueError, "ack"):
            async with self._pool.connection() as conn:
                await conn.execute(
                    self._layout.q(_ACK),
                    (text_array([i.receipt for i in items]), text_array([i.queue.value for i in items])),
                )
        return [None] * len(items)

    async def pending(self, queue: QueueType) -> int:
        """How many items ``queue`` holds, waiting or in flight (for monitoring)."""
        with wrapped(QueueError, "pending"):
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    self._layout.q("SELECT count(*) FROM {queue} WHERE queue = %s"), (queue.value,)
                )
                row = await cur.fetchone()
        return int(row[0]) if row else 0

    def _wake(self, queue: QueueType) -> None:
        for waiter in self._waiters[queue]:
            if not waiter.done():
                waiter.set_result(None)

    def _wake_all(self) -> None:
        for queue in QueueType:
            self._wake(queue)

    async def _listen(self) -> None:
        """Hold a dedicated LISTEN connection (not a pooled one), reconnecting with backoff when it drops."""
        backoff = 0.5
        while True:
            try:
                conn = await self._pool.listen_connection()
                async with conn:
                    for channel in self._channels.values():
                        await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    self._listening.set()
                    backoff = 0.5
                    # Items enqueued while we were not listening would otherwise wait for a poll.
                    self._wake_all()
                    async for notify in conn.notifies():
                        queue = self._queue_of_channel.get(notify.channel)
                        if queue is not None:
                            self._wake(queue)
            except psycopg.Error as exc:
                logger.warning("LISTEN connection lost (%s); dequeue polls until it is back", exc)
            self._listening.clear()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)
