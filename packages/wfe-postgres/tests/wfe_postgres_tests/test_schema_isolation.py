"""Tables land in the configured schema with the configured prefix; migrations are versioned and race-safe."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from wfe_postgres import PostgresLock, PostgresPersistence, PostgresQueue
from wfe_postgres._migrations import LATEST_VERSION
from wfe_postgres._pools import split_url

from .instances import make_instance

pytestmark = pytest.mark.postgres

WFE_TABLES = {
    "workflows",
    "execution_pointers",
    "events",
    "event_subscriptions",
    "execution_errors",
    "scheduled_commands",
    "definition_sequences",
    "queue",
    "locks",
    "store_settings",
    "schedules",
    "queue_slots",
    "queue_waiters",
    "queue_starts",
    "schema_migrations",
}


async def relations(pg_url: str, schema: str, kind: str = "r") -> set[str]:
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind = %s",
            (schema, kind),
        )
        return {row[0] for row in await cur.fetchall()}


async def applied_versions(pg_url: str, schema: str, prefix: str) -> list[int]:
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        cur = await conn.execute(
            psycopg.sql.SQL("SELECT version FROM {} ORDER BY version").format(
                psycopg.sql.Identifier(schema, f"{prefix}schema_migrations")
            )
        )
        return [row[0] for row in await cur.fetchall()]


async def test_tables_land_in_the_custom_schema_with_the_prefix(pg_url: str, schema: str) -> None:
    public_before = await relations(pg_url, "public")
    store = PostgresPersistence.from_url(pg_url, schema=schema, table_prefix="acme_")
    try:
        await store.ensure_store_exists()
        instance = make_instance()
        await store.create_workflow(instance)
    finally:
        await store.close()
    assert await relations(pg_url, schema) == {f"acme_{t}" for t in WFE_TABLES}
    sequences = await relations(pg_url, schema, "S")
    assert "acme_lock_fences" in sequences
    assert all(name.startswith("acme_") for name in sequences | await relations(pg_url, schema, "i"))
    assert await relations(pg_url, "public") == public_before
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        cur = await conn.execute(
            psycopg.sql.SQL("SELECT id FROM {}").format(psycopg.sql.Identifier(schema, "acme_workflows"))
        )
        assert [row[0] for row in await cur.fetchall()] == [instance.id]


async def test_migrations_are_recorded_once_and_idempotent(pg_url: str, schema: str) -> None:
    store = PostgresPersistence.from_url(pg_url, schema=schema, table_prefix="p_")
    try:
        await store.ensure_store_exists()
        await store.ensure_store_exists()
    finally:
        await store.close()
    again = PostgresPersistence.from_url(pg_url, schema=schema, table_prefix="p_")
    try:
        await again.ensure_store_exists()
    finally:
        await again.close()
    assert await applied_versions(pg_url, schema, "p_") == list(range(1, LATEST_VERSION + 1))


async def test_two_prefixes_in_one_schema_are_separate_stores(pg_url: str, schema: str) -> None:
    blue = PostgresPersistence.from_url(pg_url, schema=schema, table_prefix="blue_")
    green = PostgresPersistence.from_url(pg_url, schema=schema, table_prefix="green_")
    try:
        await blue.ensure_store_exists()
        await green.ensure_store_exists()
        instance = make_instance()
        await blue.create_workflow(instance)
        assert await green.get_workflows([instance.id]) == []
        assert (await blue.get_workflow(instance.id)).id == instance.id
    finally:
        await blue.close()
        await green.close()


async def test_five_hosts_migrating_at_once_apply_each_version_once(pg_url: str, schema: str) -> None:
    # Separate pools, as on separate hosts: each one really runs the migration.
    pools: list[AsyncConnectionPool[Any]] = [
        AsyncConnectionPool(pg_url, min_size=1, max_size=1, open=False) for _ in range(5)
    ]
    for pool in pools:
        await pool.open()
    try:
        stores = [PostgresPersistence.from_pool(pool, schema=schema) for pool in pools]
        await asyncio.gather(*(store.ensure_store_exists() for store in stores))
        assert await applied_versions(pg_url, schema, "") == list(range(1, LATEST_VERSION + 1))
        instance = make_instance()
        await stores[0].create_workflow(instance)
        assert (await stores[4].get_workflow(instance.id)).id == instance.id
    finally:
        for pool in pools:
            await pool.close()


async def test_queue_and_lock_create_the_tables_they_need(pg_url: str, schema: str) -> None:
    lock = PostgresLock.from_url(pg_url, schema=schema)
    queue = PostgresQueue.from_url(pg_url, schema=schema)
    try:
        await lock.start()
        await queue.start()
        assert await relations(pg_url, schema) == WFE_TABLES
    finally:
        await queue.stop()
        await lock.stop()


@pytest.mark.parametrize(
    ("schema_name", "prefix"),
    [("bad-name", ""), ("1abc", ""), ("ok", "x;drop"), ("ok", "p" * 40), ("s" * 64, "")],
)
def test_invalid_identifiers_are_refused_with_the_rule(schema_name: str, prefix: str) -> None:
    with pytest.raises(ValueError, match="invalid|too long"):
        PostgresPersistence.from_url("postgresql://u@localhost/db", schema=schema_name, table_prefix=prefix)


def test_schema_and_prefix_may_come_from_the_url() -> None:
    store = PostgresPersistence.from_url("postgresql://u@localhost/db?schema=from_url&table_prefix=t_")
    assert (store.schema, store.table_prefix) == ("from_url", "t_")
    explicit = PostgresPersistence.from_url("postgresql://u@localhost/db?schema=from_url", schema="kw")
    assert explicit.schema == "kw"


def test_one_url_serves_all_three_providers() -> None:
    url = "postgresql://u@localhost/db?schema=s&visibility_timeout=42&poll_interval=0.5&sslmode=disable"
    queue = PostgresQueue.from_url(url)
    assert (queue.schema, queue.visibility_timeout) == ("s", 42.0)
    assert PostgresLock.from_url(url).schema == "s"
    assert PostgresPersistence.from_url(url).schema == "s"
    with pytest.raises(ValueError, match="seconds"):
        PostgresQueue.from_url("postgresql://u@localhost/db?visibility_timeout=soon")


def test_wfe_options_are_removed_and_the_rest_of_the_url_kept_byte_for_byte() -> None:
    url = "postgresql://u:p%40ss@h:5/db?schema=s&options=-c%20a%3Db+c&table_prefix=t_&sslmode=disable"
    libpq_url, ours = split_url(url)
    assert libpq_url == "postgresql://u:p%40ss@h:5/db?options=-c%20a%3Db+c&sslmode=disable"
    assert ours == {"schema": "s", "table_prefix": "t_"}
    with pytest.raises(ValueError, match="not a PostgreSQL URL"):
        split_url("mysql://u:secret@h/db")


async def test_drop_schema_removes_the_prefixed_store_only(pg_url: str, schema: str) -> None:
    blue = PostgresPersistence.from_url(pg_url, schema=schema, table_prefix="blue_")
    green = PostgresQueue.from_url(pg_url, schema=schema, table_prefix="green_")
    try:
        await blue.ensure_store_exists()
        await green.start()
        await blue.drop_schema()
        assert all(name.startswith("green_") for name in await relations(pg_url, schema))
        await green.drop_schema()
        assert await relations(pg_url, schema) == set()
        async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
            cur = await conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,))
            assert await cur.fetchone() == (0,), "the emptied schema is dropped too"
        await blue.ensure_store_exists()  # and can be created again
        assert {f"blue_{t}" for t in WFE_TABLES} <= await relations(pg_url, schema)
    finally:
        await blue.close()
        await green.stop()


async def test_errors_stored_before_the_step_columns_still_load(
    pg_url: str, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wfe_postgres import _migrations

    store = PostgresPersistence.from_url(pg_url, schema=schema)
    try:
        with monkeypatch.context() as patched:  # a store written by wfe-postgres before migration 3
            patched.setattr(_migrations, "MIGRATIONS", _migrations.MIGRATIONS[:2])
            async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
                await _migrations.migrate(conn, store._layout)
                await conn.execute(
                    psycopg.sql.SQL(
                        "INSERT INTO {} (workflow_id, execution_pointer_id, error_time, message)"
                        " VALUES ('w1', 'p1', now(), 'RuntimeError: old')"
                    ).format(psycopg.sql.Identifier(schema, "execution_errors"))
                )
        await store.ensure_store_exists()
        [error] = await store.get_errors("w1")
        assert (error.message, error.execution_pointer_id, error.step_name, error.traceback) == (
            "RuntimeError: old",
            "p1",
            None,
            None,
        )
        assert await applied_versions(pg_url, schema, "") == list(range(1, LATEST_VERSION + 1))
    finally:
        await store.close()


async def indexes_of(pg_url: str, schema: str, table: str) -> list[str]:
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = %s", (schema, table)
        )
        return [row[0] for row in await cur.fetchall()]


async def test_instances_due_before_migration_6_are_found_after_it(
    pg_url: str, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wfe_postgres import _migrations

    store = PostgresPersistence.from_url(pg_url, schema=schema)
    try:
        due, later = make_instance(), make_instance()
        later.next_execution = due.create_time + timedelta(hours=1)
        with monkeypatch.context() as patched:  # a store written by wfe-postgres before migration 6
            patched.setattr(_migrations, "MIGRATIONS", _migrations.MIGRATIONS[:5])
            async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
                await _migrations.migrate(conn, store._layout)
            for instance in (due, later):
                await store.create_workflow(instance)
        await store.ensure_store_exists()
        assert await store.get_runnable_instances(datetime.now(UTC)) == [due.id]
        assert await store.get_runnable_instances(later.next_execution + timedelta(seconds=1)) == [
            due.id,
            later.id,
        ]
        # no index of the table holds next_execution, which every pass changes: a pass's update can be HOT
        definitions = await indexes_of(pg_url, schema, "workflows")
        assert definitions and not [d for d in definitions if "next_execution" in d]
        assert await applied_versions(pg_url, schema, "") == list(range(1, LATEST_VERSION + 1))
    finally:
        await store.close()


async def test_runnable_instances_due_within_the_same_second_are_told_apart(pg_url: str, schema: str) -> None:
    store = PostgresPersistence.from_url(pg_url, schema=schema)
    await store.ensure_store_exists()
    try:
        base = datetime(2030, 1, 1, 12, 0, 0, 500_000, tzinfo=UTC)
        early, late = make_instance(), make_instance()
        early.next_execution, late.next_execution = base, base + timedelta(milliseconds=300)
        for instance in (late, early):
            await store.create_workflow(instance)
        # the index finds both by their second; the exact time still decides
        assert await store.get_runnable_instances(base + timedelta(milliseconds=100)) == [early.id]
        assert await store.get_runnable_instances(base + timedelta(milliseconds=300)) == [early.id, late.id]
        assert await store.get_runnable_instances(base - timedelta(microseconds=1)) == []
    finally:
        await store.close()
