"""Fresh, isolated stores for one benchmark: an in-memory host, a new SQLite file, a new PostgreSQL schema."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

POSTGRES_URL = os.environ.get("WFE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
VALKEY_URL = os.environ.get("WFE_BENCH_VALKEY_URL", "redis://127.0.0.1:6379/0")
STORES = ("memory", "sqlite", "postgres")


@asynccontextmanager
async def store_url(store: str) -> AsyncIterator[str | None]:
    """A persistence URL for ``store`` that no other run uses (None: the in-memory default); removed after."""
    if store == "memory":
        yield None
    elif store == "sqlite":
        folder = tempfile.mkdtemp(prefix="wfe-bench-")
        try:
            yield f"sqlite:///{folder}/wfe.db"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    elif store == "postgres":
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        try:
            yield f"{POSTGRES_URL}?schema={schema}"
        finally:
            await drop_schema(schema)
    else:
        raise ValueError(f"unknown store {store!r}: use one of {', '.join(STORES)}")


async def drop_schema(schema: str) -> None:
    import psycopg

    async with await psycopg.AsyncConnection.connect(POSTGRES_URL, autocommit=True) as conn:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def host_for(url: str | None, configure: Callable[[Any], Any] | None = None, **options: Any) -> Any:
    """A WorkflowHost on ``url`` (lock and queue follow the persistence URL), with host options; ``configure``
    is called with the builder first (to add queues, say)."""
    from wfe import WorkflowHostBuilder

    builder = WorkflowHostBuilder()
    if url is not None:
        builder = builder.use_persistence(url)
    if options:
        builder = builder.with_options(**options)
    if configure is not None:
        configure(builder)
    return builder.build()
