"""The schema as versioned migrations, applied in order inside one ``BEGIN IMMEDIATE`` transaction.

``BEGIN IMMEDIATE`` takes SQLite's write lock before reading ``schema_version``, so two processes migrating
the same file at once run one after the other: the second sees the first's version and does nothing.
Never edit a released migration; append a new one.
"""

from __future__ import annotations

import sqlite3

from wfe_core.errors import PersistenceError

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: workflows, pointers, events, subscriptions, errors, commands, sequences, queue, locks.
    (
        """
        CREATE TABLE workflows (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            definition_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            description TEXT,
            reference TEXT,
            status TEXT NOT NULL,
            data TEXT,
            next_execution INTEGER,
            create_time INTEGER NOT NULL,
            complete_time INTEGER,
            parent_workflow_id TEXT,
            root_workflow_id TEXT,
            fence INTEGER
        )
        """,
        "CREATE INDEX workflows_runnable ON workflows (next_execution) "
        "WHERE status = 'Runnable' AND next_execution IS NOT NULL",
        "CREATE INDEX workflows_created ON workflows (create_time)",
        "CREATE INDEX workflows_definition ON workflows (definition_id, create_time)",
        "CREATE INDEX workflows_status ON workflows (status, complete_time)",
        # One row per pointer; ordinal keeps the instance's pointer order. The pointer itself is JSON so
        # every field round-trips exactly and new fields need no migration.
        """
        CREATE TABLE execution_pointers (
            workflow_id TEXT NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
            id TEXT NOT NULL,
            ordinal INTEGER NOT NULL,
            status TEXT NOT NULL,
            body TEXT NOT NULL,
            PRIMARY KEY (workflow_id, id)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            event_name TEXT NOT NULL,
            event_key TEXT NOT NULL,
            event_data TEXT,
            event_time INTEGER NOT NULL,
            is_processed INTEGER NOT NULL DEFAULT 0
        )
        """,
        "CREATE INDEX events_match ON events (event_name, event_key, event_time, seq)",
        "CREATE INDEX events_unprocessed ON events (event_time, seq) WHERE is_processed = 0",
        # Terminated subscriptions stay (with the event that satisfied them) so an event is delivered to an
        # instance at most once.
        """
        CREATE TABLE event_subscriptions (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            workflow_id TEXT NOT NULL,
            step_id INTEGER NOT NULL,
            execution_pointer_id TEXT NOT NULL,
            event_name TEXT NOT NULL,
            event_key TEXT NOT NULL,
            subscribe_as_of INTEGER NOT NULL,
            subscription_data TEXT,
            external_token TEXT,
            external_worker_id TEXT,
            external_token_expiry INTEGER,
            terminated INTEGER NOT NULL DEFAULT 0,
            consumed_event_id TEXT
        )
        """,
        "CREATE INDEX subscriptions_open "
        "ON event_subscriptions (event_name, event_key, subscribe_as_of, seq) "
        "WHERE terminated = 0",
        "CREATE INDEX subscriptions_workflow ON event_subscriptions (workflow_id, event_name, event_key)",
        """
        CREATE TABLE execution_errors (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            workflow_id TEXT NOT NULL,
            execution_pointer_id TEXT,
            error_time INTEGER NOT NULL,
            message TEXT NOT NULL
        )
        """,
        "CREATE INDEX execution_errors_workflow ON execution_errors (workflow_id, seq)",
        """
        CREATE TABLE scheduled_commands (
            command_name TEXT NOT NULL,
            data TEXT NOT NULL,
            execute_time INTEGER NOT NULL,
            PRIMARY KEY (command_name, data)
        )
        """,
        "CREATE INDEX scheduled_commands_due ON scheduled_commands (execute_time)",
        "CREATE TABLE definition_sequences (definition_id TEXT PRIMARY KEY, next_num INTEGER NOT NULL)",
        # receipt IS NULL: waiting; otherwise taken, invisible until visible_at.
        """
        CREATE TABLE queue_items (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            queue TEXT NOT NULL,
            item_id TEXT NOT NULL,
            receipt TEXT,
            visible_at INTEGER
        )
        """,
        "CREATE UNIQUE INDEX queue_items_waiting ON queue_items (queue, item_id) WHERE receipt IS NULL",
        "CREATE INDEX queue_items_order ON queue_items (queue, seq)",
        # The fence counter lives in the row and only grows: release clears token and expiry, never the fence.
        """
        CREATE TABLE locks (
            resource TEXT PRIMARY KEY,
            token TEXT,
            fence INTEGER NOT NULL,
            expires_at INTEGER
        )
        """,
    ),
    # 2: search documents and their FTS5 index (rowid of search_text = rowid of search_documents).
    (
        """
        CREATE TABLE search_documents (
            workflow_id TEXT PRIMARY KEY,
            definition_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            status TEXT NOT NULL,
            reference TEXT,
            data TEXT,
            data_type TEXT,
            create_time INTEGER NOT NULL,
            complete_time INTEGER,
            words TEXT NOT NULL,
            reference_words TEXT NOT NULL,
            raw_tokens TEXT NOT NULL,
            result TEXT NOT NULL
        )
        """,
        "CREATE INDEX search_documents_created ON search_documents (create_time)",
        # Token characters as close to Python's \w as FTS5 allows: letters, digits and underscore, case-folded,
        # accents kept (a search for "cafe" does not find "café", as in the in-memory index).
        "CREATE VIRTUAL TABLE search_text USING fts5 (body, "
        "tokenize = \"unicode61 remove_diacritics 0 tokenchars '_'\")",
    ),
    # 3: facts about the store itself (the lock family its hosts use).
    ("CREATE TABLE store_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",),
    # 4: the failed step and the exception of an execution error (NULL on the errors stored before).
    (
        "ALTER TABLE execution_errors ADD COLUMN step_id INTEGER",
        "ALTER TABLE execution_errors ADD COLUMN step_name TEXT",
        "ALTER TABLE execution_errors ADD COLUMN exception_type TEXT",
        "ALTER TABLE execution_errors ADD COLUMN traceback TEXT",
    ),
    # 5: schedules (settings as JSON; next_fire_time in microseconds, the compare-and-set of a tick).
    (
        "CREATE TABLE schedules (schedule_id TEXT PRIMARY KEY, next_fire_time INTEGER NOT NULL, body TEXT NOT NULL)",
    ),
    # 6: the instance a fork was made from; the queue with limits an instance runs in, and the slots,
    # waiters and recent starts of those queues.
    (
        "ALTER TABLE workflows ADD COLUMN forked_from TEXT",
        "ALTER TABLE workflows ADD COLUMN queue TEXT",
        "ALTER TABLE workflows ADD COLUMN priority INTEGER NOT NULL DEFAULT 0",
        """
        CREATE TABLE queue_slots (
            queue TEXT NOT NULL,
            workflow_id TEXT NOT NULL,
            token TEXT NOT NULL UNIQUE,
            expires_at INTEGER NOT NULL,
            PRIMARY KEY (queue, workflow_id)
        )
        """,
        """
        CREATE TABLE queue_waiters (
            queue TEXT NOT NULL,
            workflow_id TEXT NOT NULL,
            priority INTEGER NOT NULL,
            since INTEGER NOT NULL,
            live_until INTEGER NOT NULL,
            PRIMARY KEY (queue, workflow_id)
        )
        """,
        "CREATE TABLE queue_starts (queue TEXT NOT NULL, at INTEGER NOT NULL)",
        "CREATE INDEX queue_starts_queue ON queue_starts (queue, at)",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to ``SCHEMA_VERSION``; return the version found before. Idempotent.

    Runs in autocommit mode on ``conn`` and commits the migrations as one transaction.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT)"
        )
        (found,) = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
        if found > SCHEMA_VERSION:
            raise PersistenceError(
                f"the database schema is at version {found} but this wfe-sqlite knows only up to "
                f"{SCHEMA_VERSION}: upgrade wfe-sqlite on every host that opens this file"
            )
        for version in range(found + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version - 1]:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?, datetime('now'))", (version,)
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return int(found)
