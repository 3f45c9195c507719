"""SqlitePersistence: the PersistenceProvider on SQLite."""

from __future__ import annotations

import sqlite3
from typing import Any

from wfe_core.errors import PersistenceError
from wfe_sqlite._database import SqliteDatabase
from wfe_sqlite._errors_and_commands import _ErrorsAndCommands
from wfe_sqlite._events import _EventStore
from wfe_sqlite._handle import DatabaseHandle
from wfe_sqlite._leased_create import _LeasedCreate
from wfe_sqlite._queue_slots import _QueueSlots
from wfe_sqlite._schedules import _ScheduleStore
from wfe_sqlite._url import parse_sqlite_url
from wfe_sqlite._workflows import _WorkflowStore


class SqlitePersistence(
    _LeasedCreate, _WorkflowStore, _EventStore, _ErrorsAndCommands, _ScheduleStore, _QueueSlots
):
    """Workflow state in a SQLite file (or ``:memory:``).

            Every call is one transaction on the database's worker thread; concurrent calls share commits (group
            commit). Pointers are rows of their own and a pass writes only the pointers it changed. Open it with
            ``SqlitePersistence.from_url("sqlite:///wfe.db")``; persistence, queue and lock opened on the same URL in
            one process share one connection. It keeps the slots of queues with limits too (``QueueSlotStore``), and with
        a lock on the same database writes a new instance and its lease in one transaction (``LeasedCreate``), and a
    run's last pass with its lease's release (``ReleasingPersist``).
    """

    def __init__(self, database: SqliteDatabase, *, retained: bool = False) -> None:
        """Use ``database`` (retaining it unless the caller already did, as ``from_url`` does)."""
        if not retained:
            database.retain()
        self._handle = DatabaseHandle(database, PersistenceError, retained=True)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SqlitePersistence:
        """Open ``sqlite:///relative.db``, ``sqlite:////abs/path.db`` or ``sqlite://:memory:``.

        Options (keywords or URL query): ``synchronous`` ("FULL" default, or "NORMAL"), ``busy_timeout``
        (seconds, default 10).
        """
        path, sqlite_options, _ = parse_sqlite_url(url, **options)
        return cls(SqliteDatabase.shared(path, sqlite_options), retained=True)

    @property
    def database(self) -> SqliteDatabase:
        return self._handle.database

    async def ensure_store_exists(self) -> None:
        self._handle.open()
        await self._handle.migrate()

    async def close(self) -> None:
        await self._handle.close()

    async def record_lock_family(self, family: str) -> str:
        def record(conn: sqlite3.Connection) -> str:
            conn.execute(
                "INSERT INTO store_settings (key, value) VALUES ('lock_family', ?) ON CONFLICT (key) DO NOTHING",
                (family,),
            )
            (recorded,) = conn.execute(
                "SELECT value FROM store_settings WHERE key = 'lock_family'"
            ).fetchone()
            return str(recorded)

        result: str = await self._write(record, "record lock family")
        return result
