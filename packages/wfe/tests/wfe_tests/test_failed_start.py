"""A host whose start fails part way disconnects the providers it had connected: no pool, task or log is left."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest

from wfe import WorkflowHostBuilder
from wfe_core.errors import LockError
from wfe_core.testing.services import service_url


@pytest.mark.postgres
async def test_a_lock_that_cannot_connect_leaves_no_postgres_pool_behind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pytest.importorskip("wfe_valkey")
    from wfe_postgres import _pools

    url = service_url("WFE_TEST_POSTGRES_URL")
    schema = f"wfe_t_{uuid.uuid4().hex[:10]}"
    host = (
        WorkflowHostBuilder()
        .use_persistence(url, schema=schema)
        .use_lock("redis://127.0.0.1:1/0")  # nothing listens on port 1
        .build()
    )
    try:
        with pytest.raises(LockError):
            await host.start()
        await host.stop()
        assert not _pools._registry.get(asyncio.get_running_loop()), "the persistence's pool was closed"
        caplog.clear()
        with caplog.at_level(logging.DEBUG):
            await asyncio.sleep(0.5)
        assert caplog.records == []
        assert asyncio.all_tasks() == {asyncio.current_task()}
    finally:
        import psycopg

        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
