"""SqliteQueue: durable work queues in a SQLite table."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Any

from wfe_core.errors import QueueError
from wfe_core.models import QueueItem, QueueType, new_id
from wfe_core.option_values import seconds_option
from wfe_sqlite._database import SqliteDatabase
from wfe_sqlite._handle import DatabaseHandle
from wfe_sqlite._url import parse_sqlite_url


class SqliteQueue:
    """The WORKFLOW, EVENT and INDEX queues as rows of one table.

    Enqueue de-duplicates ids still waiting; dequeue hides an item for ``visibility_timeout`` seconds and
    gives a receipt; ``ack`` deletes the row only while that receipt is current, so a late ack never removes a
    newer delivery. An item not acked in time is delivered again (at-least-once).

    ``dequeue`` blocks: an enqueue in this process wakes waiting dequeues at once; items enqueued by other
    processes on the same file are seen by polling every ``poll_interval`` seconds.
    """

    def __init__(
        self,
        database: SqliteDatabase,
        *,
        visibility_timeout: float = 60.0,
        poll_interval: float = 0.1,
        retained: bool = False,
    ) -> None:
        visibility_timeout = seconds_option("SQLite queue", "visibility_timeout", visibility_timeout)
        poll_interval = seconds_option("SQLite queue", "poll_interval", poll_interval)
        if not retained:
            database.retain()
        self._handle = DatabaseHandle(database, QueueError, retained=True)
        self.visibility_timeout = float(visibility_timeout)
        self.poll_interval = float(poll_interval)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SqliteQueue:
        """Open the queue on a ``sqlite:`` URL (see ``SqlitePersistence.from_url``).

        Options (keywords or URL query): ``visibility_timeout`` (seconds, default 60), ``poll_interval``
        (seconds, default 0.1), plus the connection options ``synchronous`` and ``busy_timeout``.
        """
        visibility_timeout = options.pop("visibility_timeout", None)
        poll_interval = options.pop("poll_interval", None)
        path, sqlite_options, query = parse_sqlite_url(url, **options)
        return cls(
            SqliteDatabase.shared(path, sqlite_options),
            visibility_timeout=_given(visibility_timeout, query.get("visibility_timeout"), 60.0),
            poll_interval=_given(poll_interval, query.get("poll_interval"), 0.1),
            retained=True,
        )

    @property
    def database(self) -> SqliteDatabase:
        return self._handle.database

    @property
    def is_dequeue_blocking(self) -> bool:
        return True

    async def start(self) -> None:
        self._handle.open()
        await self._handle.migrate()

    async def stop(self) -> None:
        await self._handle.close()

    async def enqueue(self, queue: QueueType, item_id: str) -> None:
        params = (str(queue.value), item_id)
        await self._handle.run(
            # The partial unique index over waiting items makes a duplicate a no-op.
            lambda conn: conn.execute(
                "INSERT OR IGNORE INTO queue_items (queue, item_id) VALUES (?, ?)", params
            ),
            write=True,
            action="enqueue",
        )
        self._handle.database.wakeups.notify(_wakeup_key(queue))

    async def dequeue(self, queue: QueueType, *, timeout: float = 1.0) -> QueueItem | None:  # noqa: ASYNC109
        deadline = time.monotonic() + max(0.0, timeout)
        key = _wakeup_key(queue)
        wakeups = self._handle.database.wakeups
        while True:
            waiter = wakeups.waiter(key)
            try:
                item = await self._take(queue)
                remaining = deadline - time.monotonic()
                if item is not None or remaining <= 0:
                    return item
                # asyncio.wait, not wait_for: on Python 3.11 wait_for can swallow a cancellation that arrives as the
                # waiter completes, and a stopping host would then wait here forever.
                await asyncio.wait({waiter}, timeout=min(remaining, self.poll_interval))
            finally:
                wakeups.discard(key, waiter)

    async def _take(self, queue: QueueType) -> QueueItem | None:
        name = str(queue.value)
        visibility = int(self.visibility_timeout * 1_000_000)

        def take(conn: sqlite3.Connection) -> QueueItem | None:
            now = time.time_ns() // 1000
            # the oldest visible item, taken in the statement that finds it; its receipt is "<seq>:<new id>"
            row = conn.execute(
                "UPDATE queue_items SET receipt = seq || ':' || ?, visible_at = ? WHERE seq = ("
                "SELECT seq FROM queue_items WHERE queue = ? AND (receipt IS NULL OR visible_at <= ?) "
                "ORDER BY seq LIMIT 1) RETURNING item_id, receipt",
                (new_id(), now + visibility, name, now),
            ).fetchone()
            if row is None:
                return None
            item_id, receipt = row
            return QueueItem(queue=queue, item_id=item_id, receipt=receipt)

        result: QueueItem | None = await self._handle.run(take, write=True, action="dequeue")
        return result

    async def ack(self, item: QueueItem) -> None:
        seq = item.receipt.partition(":")[0]
        if not seq.isdigit():
            return
        receipt = item.receipt

        def ack(conn: sqlite3.Connection) -> None:
            # Only while the delivery is still ours: once its visibility lapsed the item belongs to the next
            # taker, and a late ack must not drop that redelivery.
            conn.execute(
                "DELETE FROM queue_items WHERE seq = ? AND receipt = ? AND visible_at > ?",
                (int(seq), receipt, time.time_ns() // 1000),
            )

        await self._handle.run(ack, write=True, action="ack")


def _wakeup_key(queue: QueueType) -> str:
    return f"queue:{queue.value}"


def _given(keyword: Any, query: str | None, default: float) -> Any:
    """The keyword option, else the URL's, else the default (checked by the constructor)."""
    if keyword is not None:
        return keyword
    return query if query is not None else default
