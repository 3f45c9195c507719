"""Fixtures: the test database URL and a schema of its own for every test, dropped afterwards."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from wfe_core.testing.services import service_url
from wfe_postgres import PostgresLock, PostgresPersistence, PostgresQueue

from .private_server import PrivateServer, skip_or_fail_without_binaries

SERVER_PASSWORD = "wfe p@ss:w/rd%+"
"""The password of ``password_server``: special characters, so the URL must percent-encode it."""


@pytest.fixture
def pg_url() -> str:
    """The test server's URL (``WFE_TEST_POSTGRES_URL``); skips locally when unset, fails under CI."""
    return service_url("WFE_TEST_POSTGRES_URL")


async def drop_schema(url: str, schema: str) -> None:
    """Drop a test schema and everything in it."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
async def schema(pg_url: str) -> AsyncIterator[str]:
    """A schema name no other test uses; dropped (with everything in it) after the test."""
    name = f"wfe_test_{uuid.uuid4().hex[:12]}"
    yield name
    await drop_schema(pg_url, name)


@pytest.fixture
async def store(pg_url: str, schema: str) -> AsyncIterator[PostgresPersistence]:
    """A migrated PostgresPersistence in the test's own schema."""
    provider = PostgresPersistence.from_url(pg_url, schema=schema)
    await provider.ensure_store_exists()
    yield provider
    await provider.close()


async def open_providers(url: str, schema: str) -> tuple[PostgresPersistence, PostgresLock, PostgresQueue]:
    """Persistence, lock and queue on one URL and schema, each started (their tables made); the caller stops
    them."""
    persistence = PostgresPersistence.from_url(url, schema=schema)
    lock = PostgresLock.from_url(url, schema=schema)
    queue = PostgresQueue.from_url(url, schema=schema)
    await persistence.ensure_store_exists()
    await lock.start()
    await queue.start()
    return persistence, lock, queue


@pytest.fixture(scope="session")
def password_server() -> Iterator[PrivateServer]:
    """A private PostgreSQL server that wants a password (``SERVER_PASSWORD``, scram-sha-256) on every
    connection, started once per session and removed afterwards.

    The shared test server trusts every connection. Skips without the server binaries, fails under CI."""
    skip_or_fail_without_binaries()
    # not under pytest's tmp_path: its parents are private to the user running the tests, and the server
    # may have to run as the postgres user
    root = Path(tempfile.mkdtemp(prefix="wfe-pg-password-"))
    try:
        server = PrivateServer.create(root, password=SERVER_PASSWORD)
        assert server is not None
        try:
            server.start()
            yield server
        finally:
            with contextlib.suppress(RuntimeError):  # it did not start: nothing to stop
                server.stop("immediate")
    finally:
        shutil.rmtree(root, ignore_errors=True)
