"""Versioned schema migrations, applied once per schema and prefix, serialised across hosts."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from wfe_postgres._layout import Layout

MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "initial",
        (
            """CREATE TABLE IF NOT EXISTS {workflows} (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                definition_id TEXT NOT NULL,
                version INTEGER NOT NULL,
                description TEXT,
                reference TEXT,
                status TEXT NOT NULL,
                data JSONB,
                next_execution TIMESTAMPTZ,
                create_time TIMESTAMPTZ NOT NULL,
                complete_time TIMESTAMPTZ,
                parent_workflow_id TEXT,
                root_workflow_id TEXT,
                fence BIGINT NOT NULL DEFAULT 0
            )""",
            "CREATE INDEX IF NOT EXISTS {workflows_runnable_idx} ON {workflows} (next_execution)"
            " WHERE status = 'Runnable' AND next_execution IS NOT NULL",
            "CREATE INDEX IF NOT EXISTS {workflows_definition_idx} ON {workflows}"
            " (definition_id, create_time DESC)",
            "CREATE INDEX IF NOT EXISTS {workflows_status_idx} ON {workflows} (status, complete_time)",
            # seq keeps the order pointers were created in; body holds every field of the pointer.
            """CREATE TABLE IF NOT EXISTS {execution_pointers} (
                workflow_id TEXT NOT NULL REFERENCES {workflows} (id) ON DELETE CASCADE,
                id TEXT NOT NULL,
                seq BIGINT GENERATED ALWAYS AS IDENTITY,
                step_id INTEGER NOT NULL,
                status TEXT NOT NULL,
                event_name TEXT,
                event_key TEXT,
                body JSONB NOT NULL,
                PRIMARY KEY (workflow_id, id)
            )""",
            "CREATE INDEX IF NOT EXISTS {execution_pointers_order_idx} ON"
            " {execution_pointers} (workflow_id, seq)",
            """CREATE TABLE IF NOT EXISTS {events} (
                id TEXT PRIMARY KEY,
                seq BIGINT GENERATED ALWAYS AS IDENTITY,
                event_name TEXT NOT NULL,
                event_key TEXT NOT NULL,
                event_data JSONB,
                event_time TIMESTAMPTZ NOT NULL,
                is_processed BOOLEAN NOT NULL DEFAULT FALSE
            )""",
            "CREATE INDEX IF NOT EXISTS {events_name_key_time_idx} ON {events}"
            " (event_name, event_key, event_time)",
            "CREATE INDEX IF NOT EXISTS {events_unprocessed_idx} ON {events}"
            " (event_time) WHERE NOT is_processed",
            # Subscriptions are kept after termination: consumed_event_id records what satisfied them.
            """CREATE TABLE IF NOT EXISTS {event_subscriptions} (
                id TEXT PRIMARY KEY,
                seq BIGINT GENERATED ALWAYS AS IDENTITY,
                workflow_id TEXT NOT NULL,
                step_id INTEGER NOT NULL,
                execution_pointer_id TEXT NOT NULL,
                event_name TEXT NOT NULL,
                event_key TEXT NOT NULL,
                subscribe_as_of TIMESTAMPTZ NOT NULL,
                subscription_data JSONB,
                external_token TEXT,
                external_worker_id TEXT,
                external_token_expiry TIMESTAMPTZ,
                terminated BOOLEAN NOT NULL DEFAULT FALSE,
                consumed_event_id TEXT
            )""",
            "CREATE INDEX IF NOT EXISTS {event_subscriptions_open_idx} ON {event_subscriptions}"
            " (event_name, event_key, subscribe_as_of) WHERE NOT terminated",
            "CREATE INDEX IF NOT EXISTS {event_subscriptions_workflow_idx} ON {event_subscriptions}"
            " (workflow_id, event_name, event_key)",
            """CREATE TABLE IF NOT EXISTS {execution_errors} (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                workflow_id TEXT NOT NULL,
                execution_pointer_id TEXT,
                error_time TIMESTAMPTZ NOT NULL,
                message TEXT NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS {execution_errors_workflow_idx} ON"
            " {execution_errors} (workflow_id, error_time, seq)",
            """CREATE TABLE IF NOT EXISTS {scheduled_commands} (
                command_name TEXT NOT NULL,
                data TEXT NOT NULL,
                execute_time TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (command_name, data)
            )""",
            """CREATE TABLE IF NOT EXISTS {definition_sequences} (
                definition_id TEXT PRIMARY KEY,
                next_num BIGINT NOT NULL
            )""",
            # A row is waiting while receipt IS NULL, taken (invisible until visible_at) otherwise.
            """CREATE TABLE IF NOT EXISTS {queue} (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                queue TEXT NOT NULL,
                item_id TEXT NOT NULL,
                visible_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
                receipt TEXT,
                deliveries INTEGER NOT NULL DEFAULT 0
            )""",
            "CREATE UNIQUE INDEX IF NOT EXISTS {queue_waiting_uq} ON {queue}"
            " (queue, item_id) WHERE receipt IS NULL",
            "CREATE INDEX IF NOT EXISTS {queue_order_idx} ON {queue} (queue, seq)",
            "CREATE INDEX IF NOT EXISTS {queue_receipt_idx} ON {queue} (receipt) WHERE receipt IS NOT NULL",
            """CREATE TABLE IF NOT EXISTS {locks} (
                resource TEXT PRIMARY KEY,
                token TEXT NOT NULL,
                fence BIGINT NOT NULL,
                expires_at TIMESTAMPTZ NOT NULL
            )""",
            # Sequences never go back, not even across server restarts: fences stay strictly increasing.
            "CREATE SEQUENCE IF NOT EXISTS {lock_fences} AS BIGINT",
        ),
    ),
    (
        2,
        "store settings",
        ("CREATE TABLE IF NOT EXISTS {store_settings} (key TEXT PRIMARY KEY, value TEXT NOT NULL)",),
    ),
    (
        3,
        "failed step and exception of execution errors",
        (
            "ALTER TABLE {execution_errors} ADD COLUMN IF NOT EXISTS step_id INTEGER,"
            " ADD COLUMN IF NOT EXISTS step_name TEXT,"
            " ADD COLUMN IF NOT EXISTS exception_type TEXT,"
            " ADD COLUMN IF NOT EXISTS traceback TEXT",
        ),
    ),
    (
        4,
        "schedules",
        (
            """CREATE TABLE IF NOT EXISTS {schedules} (
                schedule_id TEXT PRIMARY KEY,
                next_fire_time TIMESTAMPTZ NOT NULL,
                body JSONB NOT NULL
            )""",
        ),
    ),
    (
        5,
        "forks and queues with limits",
        (
            "ALTER TABLE {workflows} ADD COLUMN IF NOT EXISTS forked_from TEXT",
            "ALTER TABLE {workflows} ADD COLUMN IF NOT EXISTS queue TEXT",
            "ALTER TABLE {workflows} ADD COLUMN IF NOT EXISTS priority INTEGER NOT NULL DEFAULT 0",
            """CREATE TABLE IF NOT EXISTS {queue_slots} (
                queue TEXT NOT NULL,
                workflow_id TEXT NOT NULL,
                token TEXT NOT NULL UNIQUE,
                expires_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (queue, workflow_id)
            )""",
            """CREATE TABLE IF NOT EXISTS {queue_waiters} (
                queue TEXT NOT NULL,
                workflow_id TEXT NOT NULL,
                priority INTEGER NOT NULL,
                since TIMESTAMPTZ NOT NULL,
                live_until TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (queue, workflow_id)
            )""",
            "CREATE TABLE IF NOT EXISTS {queue_starts} (queue TEXT NOT NULL, at TIMESTAMPTZ NOT NULL)",
            "CREATE INDEX IF NOT EXISTS {queue_starts_idx} ON {queue_starts} (queue, at)",
        ),
    ),
    (
        6,
        "runnable instances found by the second they are due",
        (
            # A pass changes next_execution (due at its own start), so with next_execution in an index no
            # update of an instance's row could be HOT: every pass added an entry to each of the table's
            # indexes and left a dead row version behind. The index takes the second instead, a column of its
            # own that the passes of one second leave unchanged, so those updates happen in place.
            "ALTER TABLE {workflows} ADD COLUMN IF NOT EXISTS due_second TIMESTAMP"
            " GENERATED ALWAYS AS (date_trunc('second', next_execution AT TIME ZONE 'UTC')) STORED",
            "CREATE INDEX IF NOT EXISTS {workflows_due_idx} ON {workflows} (due_second)"
            " WHERE status = 'Runnable' AND due_second IS NOT NULL",
            "DROP INDEX IF EXISTS {schema}.{workflows_runnable_idx}",
        ),
    ),
)
"""(version, name, statements): append new versions, never edit an applied one."""

LATEST_VERSION = MIGRATIONS[-1][0]


async def migrate(conn: AsyncConnection[Any], layout: Layout) -> list[int]:
    """Bring ``layout``'s schema to the latest version; return the versions applied now.

    Runs in one transaction under ``pg_advisory_xact_lock``, so hosts starting together apply each migration
    once and the others wait, then find nothing left to do. Nothing touches ``search_path``.
    """
    applied_now: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (layout.migration_lock_key,))
        await conn.execute(layout.q("CREATE SCHEMA IF NOT EXISTS {schema}"))
        await conn.execute(
            layout.q(
                "CREATE TABLE IF NOT EXISTS {schema_migrations} ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                " applied_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())"
            )
        )
        cur = await conn.execute(layout.q("SELECT version FROM {schema_migrations}"))
        done = {row[0] for row in await cur.fetchall()}
        for version, name, statements in MIGRATIONS:
            if version in done:
                continue
            for statement in statements:
                await conn.execute(layout.q(statement))
            await conn.execute(
                layout.q("INSERT INTO {schema_migrations} (version, name) VALUES (%s, %s)"), (version, name)
            )
            applied_now.append(version)
    return applied_now


async def drop_schema_objects(conn: AsyncConnection[Any], layout: Layout) -> None:
    """Drop every table and sequence of ``layout``, then the schema itself when nothing else is left in it."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (layout.migration_lock_key,))
        for table in (
            "execution_pointers",
            "workflows",
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
        ):
            await conn.execute(layout.q(f"DROP TABLE IF EXISTS {{{table}}}"))
        await conn.execute(layout.q("DROP SEQUENCE IF EXISTS {lock_fences}"))
        cur = await conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid ="
            " c.relnamespace WHERE n.nspname = %s",
            (layout.schema,),
        )
        row = await cur.fetchone()
        if row is not None and row[0] == 0:
            await conn.execute(layout.q("DROP SCHEMA IF EXISTS {schema}"))
