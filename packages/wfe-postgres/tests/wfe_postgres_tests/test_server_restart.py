"""A PostgreSQL restart: calls during the outage raise wfe's errors, and work again once it is back."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from wfe_core.errors import LockError, PersistenceError, QueueError
from wfe_core.models import QueueType
from wfe_postgres import PostgresLock, PostgresPersistence, PostgresQueue

from .instances import make_instance
from .private_server import PrivateServer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def server() -> Iterator[PrivateServer]:
    # not under pytest's tmp_path: its parents are private to the user running the tests, and the server
    # may have to run as the postgres user
    root = Path(tempfile.mkdtemp(prefix="wfe-pg-"))
    try:
        created = PrivateServer.create(root)
        if created is None:
            pytest.skip("the PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        created.start()
        try:
            yield created
        finally:
            created.stop("immediate")
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def test_providers_recover_after_the_server_restarts(server: PrivateServer) -> None:
    store = PostgresPersistence.from_url(server.url, pool_timeout=3, min_pool_size=2)
    queue = PostgresQueue.from_url(server.url, pool_timeout=3, poll_interval=0.2)
    lock = PostgresLock.from_url(server.url, pool_timeout=3)
    try:
        await store.ensure_store_exists()
        await queue.start()
        await lock.start()
        instance = make_instance()
        await store.create_workflow(instance)
        await queue.enqueue(QueueType.WORKFLOW, instance.id)

        await asyncio.to_thread(server.stop, "immediate")
        short = PostgresPersistence.from_url(server.url, pool_timeout=1)
        try:
            with pytest.raises(PersistenceError):
                await short.get_workflow(instance.id)
        finally:
            await short.close()
        with pytest.raises(PersistenceError):
            await asyncio.wait_for(store.get_workflow(instance.id), timeout=60)
        with pytest.raises(QueueError):
            await asyncio.wait_for(queue.enqueue(QueueType.WORKFLOW, "during-outage"), timeout=60)
        with pytest.raises(LockError):
            await asyncio.wait_for(lock.acquire("r", timedelta(seconds=5)), timeout=60)

        await asyncio.to_thread(server.start)
        started = time.monotonic()
        assert (await store.get_workflow(instance.id)).id == instance.id
        item = await queue.dequeue(QueueType.WORKFLOW, timeout=20)
        assert item is not None and item.item_id == instance.id  # nothing enqueued was lost
        await queue.ack(item)
        assert await lock.acquire("r", timedelta(seconds=5)) is not None
        assert time.monotonic() - started < 10
    finally:
        await store.close()
        await queue.stop()
        await lock.stop()
