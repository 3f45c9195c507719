"""wfe leaves an application's connections as it found them, and providers share one pool per URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from wfe_core.models import QueueType
from wfe_postgres import PostgresLock, PostgresPersistence, PostgresQueue

from .conftest import open_providers
from .instances import make_instance

pytestmark = pytest.mark.postgres


@pytest.fixture
async def app_pool(pg_url: str, schema: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    """An application's pool whose connections use search_path ``<schema>_app`` (not autocommit)."""
    app_schema = f"{schema}_app"
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        await conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(app_schema)))

    async def configure(conn: psycopg.AsyncConnection[Any]) -> None:
        await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(app_schema)))
        await conn.commit()

    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        pg_url, min_size=1, max_size=2, configure=configure, open=False
    )
    await pool.open()
    yield pool
    await pool.close()
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        await conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(app_schema)))


async def test_the_application_search_path_survives_migration_and_use(
    app_pool: AsyncConnectionPool[Any], schema: str
) -> None:
    store = PostgresPersistence.from_pool(app_pool, schema=schema)
    await store.ensure_store_exists()
    instance = make_instance()
    await store.create_workflow(instance)
    await store.get_workflow(instance.id)
    await store.close()
    # every connection of the pool, not only one: take both at once
    async with app_pool.connection() as first, app_pool.connection() as second:
        for conn in (first, second):
            cur = await conn.execute("SHOW search_path")
            row = await cur.fetchone()
            assert row is not None and row[0] == f"{schema}_app"
            cur = await conn.execute("SELECT to_regclass('workflows')")
            assert await cur.fetchone() == (None,), "unqualified 'workflows' must not resolve to wfe's table"


async def test_close_leaves_the_application_pool_open(
    app_pool: AsyncConnectionPool[Any], schema: str
) -> None:
    lock = PostgresLock.from_pool(app_pool, schema=schema)
    await lock.start()
    await lock.stop()
    async with app_pool.connection() as conn:
        cur = await conn.execute("SELECT 1")
        assert await cur.fetchone() == (1,)


async def test_queue_listens_on_a_connection_outside_the_application_pool(
    app_pool: AsyncConnectionPool[Any], schema: str
) -> None:
    queue = PostgresQueue.from_pool(app_pool, schema=schema)
    await queue.start()
    try:
        await queue.enqueue(QueueType.WORKFLOW, "w1")
        item = await queue.dequeue(QueueType.WORKFLOW, timeout=1.0)
        assert item is not None and item.item_id == "w1"
        await queue.ack(item)
        assert app_pool.get_stats()["pool_size"] <= 2
    finally:
        await queue.stop()


async def test_providers_from_one_url_share_one_pool_closed_by_the_last(pg_url: str, schema: str) -> None:
    store, lock, queue = await open_providers(pg_url, schema)
    entries = [await provider._pool.entry() for provider in (store, lock, queue)]
    assert len({id(entry.pool) for entry in entries}) == 1
    await store.close()
    await lock.stop()
    assert not entries[0].pool.closed
    await queue.stop()
    assert entries[0].pool.closed
