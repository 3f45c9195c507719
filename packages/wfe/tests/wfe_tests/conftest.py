"""Hosts for the behaviour tests: in-memory by default; WFE_TEST_STORES=memory,sqlite,postgres runs every
behaviour test on each listed store (one switch, same tests). And the command-line tests' runner."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from wfe import WorkflowHost, WorkflowHostBuilder
from wfe_core.testing.services import service_url

STORES = [s.strip() for s in os.environ.get("WFE_TEST_STORES", "memory").split(",") if s.strip()]
STORE_PARAMS = [pytest.param(s, marks=pytest.mark.postgres) if s == "postgres" else s for s in STORES]

HostFactory = Callable[..., Awaitable[WorkflowHost]]


async def drop_test_schema(url: str, schema: str) -> None:
    """Drop a test's PostgreSQL schema and everything in it (the providers wait for their writes when they
    stop, so no statement of a stopped host is left to hold a lock the drop needs)."""
    import psycopg  # only needed when the postgres store is selected

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


Cleanup = Callable[[], Awaitable[None]]


def store_location(store: str, tmp_path: Any) -> tuple[str | None, dict[str, Any], list[Cleanup]]:
    """A new store for a test: its URL (None: in memory), the options ``use_persistence`` takes with it, and what
    removes it after. Each call makes another SQLite file or PostgreSQL schema; hosts given the same location
    share it."""
    if store == "sqlite":
        return f"sqlite:///{tmp_path}/wfe-{uuid.uuid4().hex[:8]}.db", {}, []
    if store == "postgres":
        url = service_url("WFE_TEST_POSTGRES_URL")
        schema = f"wfe_t_{uuid.uuid4().hex[:10]}"

        async def drop() -> None:
            await drop_test_schema(url, schema)

        return url, {"schema": schema}, [drop]
    return None, {}, []


def configure_store(builder: WorkflowHostBuilder, store: str, tmp_path: Any) -> list[Cleanup]:
    """Give ``builder`` a new store (``store_location``); returns what removes it after."""
    url, options, cleanups = store_location(store, tmp_path)
    if url is not None:
        builder.use_persistence(url, **options)
    return cleanups


@contextlib.asynccontextmanager
async def started_hosts(store: str, tmp_path: Any) -> AsyncIterator[HostFactory]:
    """``host = await factory(*definitions, clock=..., configure=..., **host_options)``: hosts on ``store``
    (``memory``, ``sqlite`` or ``postgres``, each host a store of its own), started; on exit every host is
    stopped, then the PostgreSQL schemas are dropped."""
    hosts: list[WorkflowHost] = []
    cleanups: list[Cleanup] = []

    async def factory(
        *definitions: Any, clock: Any = None, configure: Any = None, **options: Any
    ) -> WorkflowHost:
        builder = WorkflowHostBuilder()
        cleanups.extend(configure_store(builder, store, tmp_path))
        if clock is not None:
            builder.use_clock(clock)
        if options:
            builder.with_options(**options)
        if configure is not None:
            configure(builder)
        host = builder.build()
        for definition in definitions:
            host.register_workflow(definition)
        await host.start()
        hosts.append(host)
        return host

    yield factory
    for host in hosts:
        await host.stop()
    for cleanup in cleanups:
        await cleanup()


@pytest.fixture(params=STORE_PARAMS)
async def make_host(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[HostFactory]:
    """``host = await make_host(*definitions, clock=..., **host_options)``: a started host, stopped after."""
    async with started_hosts(request.param, tmp_path) as factory:
        yield factory


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A ``CliRunner`` working in ``tmp_path``, with the variables that announce a CI run (GitHub Actions,
    GitLab CI) unset, so that the output has no log groups even when the tests run in CI. A module that wants
    another runner defines its own."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITLAB_CI", raising=False)
    return CliRunner()
