"""A PostgreSQL URL that cannot work fails the host's start() at once, with libpq's reason and the fix.

No psycopg_pool retrying in the background (and logging each failure) until the pool timeout, no pool or task
left once the host is stopped, and nothing logged after that. The shared test server trusts every connection,
so the password tests run on a private server that wants one (``password_server``); the server that never
answers is a socket of the test's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from wfe import ExecutionResult, StepBody, StepExecutionContext, WorkflowBuilder, WorkflowHostBuilder
from wfe_core.errors import PersistenceError
from wfe_core.models import WorkflowStatus
from wfe_postgres import PostgresLock, PostgresPersistence, PostgresQueue
from wfe_postgres._pools import PROBE_TIMEOUT

from .private_server import PrivateServer

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


class SilentServer:
    """A TCP server on 127.0.0.1 that accepts every connection and never sends a byte (a hung server, or a
    firewall that swallows the traffic): the client waits for the server's reply until its connect timeout."""

    def __init__(self) -> None:
        self.accepted: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="silent-server", daemon=True)

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.accepted.append(conn)  # held open, never read from or written to

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._thread.join()
        for conn in [*self.accepted, self._listener]:
            with contextlib.suppress(OSError):
                conn.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    with SilentServer() as server:
        yield server


async def _start_fails(
    url: str, records: list[logging.LogRecord], schema: str
) -> tuple[PersistenceError, float]:
    """The error ``start()`` fails with on ``url`` and the seconds it took, once nothing is left behind."""
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
    return caught.value, took


async def test_a_database_that_does_not_exist(pg_url: str, records: list[logging.LogRecord]) -> None:
    missing = f"wfe_missing_{uuid.uuid4().hex[:8]}"
    error, _ = await _start_fails(_replace(pg_url, database=missing), records, "wfe")
    assert f'database "{missing}" does not exist' in str(error)
    assert "CREATE DATABASE" in str(error)


async def test_a_role_that_does_not_exist(pg_url: str, records: list[logging.LogRecord]) -> None:
    error, _ = await _start_fails(_replace(pg_url, user="wfe_no_such_role"), records, "wfe")
    assert 'role "wfe_no_such_role" does not exist' in str(error)
    assert "CREATE ROLE" in str(error)


async def test_a_closed_port(pg_url: str, records: list[logging.LogRecord]) -> None:
    error, _ = await _start_fails(_replace(pg_url, port=1), records, "wfe")
    assert "Connection refused" in str(error) or "connection refused" in str(error).lower()
    assert "running and reachable" in str(error)


async def test_a_wrong_password(password_server: PrivateServer, records: list[logging.LogRecord]) -> None:
    wrong = "not-the-password"
    error, _ = await _start_fails(password_server.url_with(wrong), records, "wfe")
    assert 'password authentication failed for user "postgres"' in str(error)
    assert "check the user and password in the URL" in str(error)
    assert wrong not in str(error)


async def test_no_password(
    password_server: PrivateServer, records: list[logging.LogRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    # nor one from the environment or a password file
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", "/nonexistent/wfe-test-pgpass")
    error, _ = await _start_fails(password_server.url_with(None), records, "wfe")
    assert "no password supplied" in str(error)
    assert "check the user and password in the URL" in str(error)


class Done(StepBody):
    async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        return ExecutionResult.next()


async def test_the_right_password_starts_the_host_and_runs_a_workflow(
    password_server: PrivateServer, records: list[logging.LogRecord]
) -> None:
    assert password_server.password is not None
    assert "%" in password_server.url, "the password's special characters are percent-encoded in the URL"
    schema = f"wfe_test_{uuid.uuid4().hex[:12]}"
    host = WorkflowHostBuilder().use_persistence(password_server.url, schema=schema).build()
    host.register_workflow(WorkflowBuilder().start_with(Done).build("one-step", 1))
    async with host:
        workflow_id = await host.start_workflow("one-step", 1, {})
        done = await host.wait_for_workflow(workflow_id, timeout=30)
    assert done.status is WorkflowStatus.COMPLETE
    assert _noisy(records) == []


async def test_a_server_that_never_answers_fails_at_the_connect_timeout(
    silent_server: SilentServer, records: list[logging.LogRecord]
) -> None:
    url = f"postgresql://postgres@127.0.0.1:{silent_server.port}/postgres?connect_timeout=2"
    error, took = await _start_fails(url, records, "wfe")
    assert silent_server.accepted, "the client reached the server (the port was not closed)"
    assert took >= 2, f"start() gave up after {took:.1f} s, before the URL's connect_timeout of 2 s"
    assert "connection timeout expired" in str(error)
    assert "check the host and port" in str(error) and "connect_timeout" in str(error)


async def test_a_server_that_never_answers_fails_within_5_s_by_default(
    silent_server: SilentServer, records: list[logging.LogRecord]
) -> None:
    url = f"postgresql://postgres@127.0.0.1:{silent_server.port}/postgres"
    error, took = await _start_fails(url, records, "wfe")
    assert silent_server.accepted
    assert took >= PROBE_TIMEOUT - 0.5
    assert "connection timeout expired" in str(error)
    assert "check the host and port" in str(error) and "connect_timeout" in str(error)


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
