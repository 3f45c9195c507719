"""SQLite-specific queue behaviour: options from the URL, and items enqueued by another process."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from wfe_core.models import QueueType
from wfe_sqlite import SqliteDatabase, SqliteQueue


def test_queue_options_come_from_the_url_and_keywords_win() -> None:
    queue = SqliteQueue.from_url("sqlite://:memory:?visibility_timeout=7&poll_interval=0.5")
    assert (queue.visibility_timeout, queue.poll_interval) == (7.0, 0.5)
    asyncio.run(queue.stop())
    queue = SqliteQueue.from_url("sqlite://:memory:?visibility_timeout=7", visibility_timeout=9)
    assert queue.visibility_timeout == 9.0
    asyncio.run(queue.stop())


async def test_a_blocking_dequeue_finds_items_another_process_enqueued(tmp_path: Path) -> None:
    path = str(tmp_path / "wfe.db")
    here = SqliteQueue.from_url(f"sqlite:///{path}", poll_interval=0.05)
    # A second database object on the file has its own connection and no in-process signal to this one:
    # to the first, its enqueues look like another process's.
    elsewhere = SqliteQueue(SqliteDatabase(path))
    await here.start()
    await elsewhere.start()
    taker = asyncio.create_task(here.dequeue(QueueType.EVENT, timeout=5.0))
    await asyncio.sleep(0.2)
    started = time.monotonic()
    await elsewhere.enqueue(QueueType.EVENT, "from-elsewhere")
    item = await taker
    assert item is not None and item.item_id == "from-elsewhere"
    assert time.monotonic() - started < 1.0
    await here.ack(item)
    await elsewhere.stop()
    await here.stop()
