"""Connection URLs, driver errors wrapped into wfe's tree, and recovery after connections die."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql

from wfe_core.errors import LockError, PersistenceError, QueueError
from wfe_core.models import Lease, QueueType
from wfe_postgres import PostgresLock, PostgresPersistence, PostgresQueue

from .instances import make_instance

pytestmark = pytest.mark.postgres

AWKWARD_PASSWORD = "p@ss:w/rd?#%&= 'x\"é"


def with_params(url: str, **params: str) -> str:
    sep = "&" if "?" in url else "?"
    return url + sep + "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())


async def test_a_password_with_special_characters_works_percent_encoded(pg_url: str, schema: str) -> None:
    role = f"wfe_role_{uuid.uuid4().hex[:10]}"
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as admin:
        await admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(AWKWARD_PASSWORD)
            )
        )
        await admin.execute(
            sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(
                sql.Identifier(admin.info.dbname), sql.Identifier(role)
            )
        )
        info = admin.info
        url = (
            f"postgresql://{role}:{quote(AWKWARD_PASSWORD, safe='')}@{info.host}:{info.port}/{info.dbname}"
            f"?schema={schema}"
        )
    try:
        store = PostgresPersistence.from_url(url)
        try:
            await store.ensure_store_exists()
            instance = make_instance()
            await store.create_workflow(instance)
            assert (await store.get_workflow(instance.id)).id == instance.id
            async with store._pool.connection() as conn:
                cur = await conn.execute("SELECT current_user")
                assert await cur.fetchone() == (role,)
        finally:
            await store.close()
    finally:
        async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as admin:
            await admin.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(role)))
            await admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


UNREACHABLE = "postgresql://postgres@127.0.0.1:1/test"


async def test_an_unreachable_server_raises_the_providers_error_naming_the_fix() -> None:
    store = PostgresPersistence.from_url(UNREACHABLE, pool_timeout=0.5)
    queue = PostgresQueue.from_url(UNREACHABLE, pool_timeout=0.5)
    lock = PostgresLock.from_url(UNREACHABLE, pool_timeout=0.5)
    try:
        with pytest.raises(PersistenceError, match="reachable") as caught:
            await store.get_workflow("x")
        assert isinstance(caught.value.__cause__, psycopg.Error)
        with pytest.raises(QueueError):
            await queue.enqueue(QueueType.WORKFLOW, "x")
        with pytest.raises(LockError):
            await lock.acquire("x", timedelta(seconds=5))
        assert await lock.renew(Lease(resource="x", token="t", fence=1), timedelta(seconds=5)) is None
    finally:
        await store.close()
        await queue.stop()
        await lock.stop()


async def test_missing_tables_name_ensure_store_exists(pg_url: str, schema: str) -> None:
    store = PostgresPersistence.from_url(pg_url, schema=schema)
    try:
        with pytest.raises(PersistenceError, match="ensure_store_exists"):
            await store.get_workflow("x")
    finally:
        await store.close()


async def kill_backends(pg_url: str, application_name: str) -> int:
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as admin:
        cur = await admin.execute(
            # with a timeout, pg_terminate_backend returns once the backend is gone (its socket closed), not
            # when it was merely signalled
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
            " WHERE application_name = %s AND pid <> pg_backend_pid()",
            (application_name,),
        )
        row = await cur.fetchone()
        return int(row[0]) if row else 0


async def test_calls_work_again_after_the_servers_connections_were_killed(pg_url: str, schema: str) -> None:
    app = f"wfe_test_{uuid.uuid4().hex[:8]}"
    url = with_params(pg_url, application_name=app)
    store = PostgresPersistence.from_url(url, schema=schema, min_pool_size=2)
    lock = PostgresLock.from_url(url, schema=schema)
    try:
        await store.ensure_store_exists()
        instance = make_instance()
        await store.create_workflow(instance)
        assert await kill_backends(pg_url, app) >= 1
        # idle connections are checked on checkout, so the next call gets a fresh one
        assert (await store.get_workflow(instance.id)).id == instance.id
        assert await lock.acquire("r", timedelta(seconds=5)) is not None
    finally:
        await store.close()
        await lock.stop()


async def test_the_listen_connection_comes_back_after_it_was_killed(pg_url: str, schema: str) -> None:
    app = f"wfe_test_{uuid.uuid4().hex[:8]}"
    queue = PostgresQueue.from_url(with_params(pg_url, application_name=app), schema=schema, poll_interval=30)
    other = PostgresQueue.from_url(with_params(pg_url, application_name="other"), schema=schema)
    try:
        await queue.start()
        await other.start()
        assert await kill_backends(pg_url, app) >= 1
        await asyncio.sleep(1.5)  # the listener reconnects after a 0.5 s backoff
        taker = asyncio.create_task(queue.dequeue(QueueType.EVENT, timeout=20))
        await asyncio.sleep(0.2)
        started = asyncio.get_running_loop().time()
        await other.enqueue(QueueType.EVENT, "e1")
        item = await asyncio.wait_for(taker, timeout=25)
        assert item is not None and item.item_id == "e1"
        assert asyncio.get_running_loop().time() - started < 2.0
    finally:
        await queue.stop()
        await other.stop()


async def test_a_cancellation_landing_as_a_connection_arrives_is_not_lost(pg_url: str, schema: str) -> None:
    # Cancel a call at many moments around "the pool hands out its first connection"; every task must end.
    lost = 0
    for n in range(100):
        lock = PostgresLock.from_url(with_params(pg_url, application_name=f"cancel_{n}"), schema=schema)

        async def call(lock: PostgresLock = lock) -> None:
            async with lock._pool.connection() as conn:
                await conn.execute("SELECT 1")
            await asyncio.sleep(10)  # only reached when the cancellation was dropped

        task = asyncio.create_task(call())
        await asyncio.sleep(0.0002 * n)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=2)
        if not done:
            lost += 1
            task.cancel()
            await asyncio.wait({task})
        await lock.stop()
    assert lost == 0
