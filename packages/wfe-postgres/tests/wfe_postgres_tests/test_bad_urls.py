"""A PostgreSQL URL that cannot work fails the host's start() at once, with libpq's reason and the fix.

No psycopg_pool retrying in the background (and logging each failure) until the pool timeout, no pool or task
left once the host is stopped, and nothing logged after that. The test server trusts every connection, so a
wrong password cannot be provoked; a role that does not exist stands for the authentication failures.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from wfe import WorkflowHostBuilder
from wfe_core.errors import PersistenceError
from wfe_postgres import PostgresLock, PostgresPersistence, PostgresQueue

pytestmark = pytest.mark.postgres

FAIL_WITHIN = 5.0
"""The promise: a URL that cannot work fails start() within 5 s (the pool timeout is 30 s)."""


def _replace(
    url: str, *, user: str | None = None, database: str | None = None, port: int | None = None
) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{user or parts.username or 'postgres'}@{host}:{port or parts.port or 5432}"
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{database}" if database else parts.path))


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    """Every record logged anywhere while the test runs, whatever its level."""
    seen: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = seen.append  # type: ignore[method-assign]
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield seen
    root.removeHandler(handler)
    root.setLevel(level)


def _noisy(records: list[logging.LogRecord]) -> list[str]:
    """What psycopg, its pool and wfe logged at WARNING or above."""
    return [
        f"{r.name}: {r.getMessage()}"
        for r in records
        if r.levelno >= logging.WARNING and r.name.split(".")[0] in ("psycopg", "wfe", "wfe_postgres")
    ]


async def _start_fails(url: str, records: list[logging.LogRecord], schema: str) -> PersistenceError:
    host = WorkflowHostBuilder().use_persistence(url, schema=schema).build()
    began = time.monotonic()
    with pytest.raises(PersistenceError) as caught:
        await host.start()
    took = time.monotonic() - began
    await host.stop()
    assert took < FAIL_WITHIN, f"start() failed after {took:.1f} s"
    logged = len(records)
    await asyncio.sleep(1.0)  # a pool left behind would retry, and log, meanwhile
    assert records[logged:] == [], "nothing is logged after stop()"
    assert _noisy(records) == [], "the failure is the exception's to tell, not psycopg's log"
    others = asyncio.all_tasks() - {asyncio.current_task()}
    assert not others, f"tasks outlived stop(): {others}"
    return caught.value


async def test_a_database_that_does_not_exist(pg_url: str, records: list[logging.LogRecord]) -> None:
    missing = f"wfe_missing_{uuid.uuid4().hex[:8]}"
    error = await _start_fails(_replace(pg_url, database=missing), records, "wfe")
    assert f'database "{missing}" does not exist' in str(error)
    assert "CREATE DATABASE" in str(error)


async def test_a_role_that_does_not_exist(pg_url: str, records: list[logging.LogRecord]) -> None:
    error = await _start_fails(_replace(pg_url, user="wfe_no_such_role"), records, "wfe")
    assert 'role "wfe_no_such_role" does not exist' in str(error)
    assert "CREATE ROLE" in str(error)


async def test_a_closed_port(pg_url: str, records: list[logging.LogRecord]) -> None:
    error = await _start_fails(_replace(pg_url, port=1), records, "wfe")
    assert "Connection refused" in str(error) or "connection refused" in str(error).lower()
    assert "running and reachable" in str(error)


def test_an_unknown_query_parameter_is_refused_with_the_known_ones(pg_url: str) -> None:
    sep = "&" if "?" in pg_url else "?"
    for provider in (PostgresPersistence, PostgresQueue, PostgresLock):
        with pytest.raises(ValueError, match="pool_tmeout") as caught:
            provider.from_url(f"{pg_url}{sep}pool_tmeout=60")
        assert "pool_timeout" in str(caught.value) and "sslmode" in str(caught.value)
    with pytest.raises(ValueError, match="pool_tmeout"):
        WorkflowHostBuilder().use_persistence(f"{pg_url}{sep}pool_tmeout=60").build()


async def test_wfe_and_libpq_query_parameters_are_accepted(pg_url: str, schema: str) -> None:
    sep = "&" if "?" in pg_url else "?"
    url = (
        f"{pg_url}{sep}pool_timeout=60&min_pool_size=2&max_pool_size=3&prepare_threshold=none"
        f"&application_name=wfe_url_test&connect_timeout=3&schema={schema}"
    )
    store = PostgresPersistence.from_url(url)
    try:
        await store.ensure_store_exists()
        entry = await store._pool.entry()
        assert (entry.pool.timeout, entry.pool.min_size, entry.pool.max_size) == (60.0, 2, 3)
        async with store._pool.connection() as conn:
            assert conn.prepare_threshold is None
            cur = await conn.execute("SELECT current_setting('application_name')")
            assert await cur.fetchone() == ("wfe_url_test",)
    finally:
        await store.close()


async def test_a_stopped_host_leaves_no_pool_task_or_log_behind(
    pg_url: str, schema: str, records: list[logging.LogRecord]
) -> None:
    async with WorkflowHostBuilder().use_persistence(pg_url, schema=schema).build():
        pass
    logged = len(records)
    await asyncio.sleep(1.0)
    assert records[logged:] == []
    assert _noisy(records) == []
    others = asyncio.all_tasks() - {asyncio.current_task()}
    assert not others, f"tasks outlived stop(): {others}"
