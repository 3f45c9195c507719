"""``PostgresPersistence``: workflow state in PostgreSQL, shared by many hosts."""

from __future__ import annotations

from typing import ClassVar

from wfe_core.errors import PersistenceError, ProviderError
from wfe_postgres._errors_and_commands import _ErrorsAndCommands
from wfe_postgres._events import _EventsAndSubscriptions
from wfe_postgres._failures import wrapped
from wfe_postgres._leased_create import _LeasedCreate
from wfe_postgres._queue_slots import _QueueSlots
from wfe_postgres._reads import _InstanceReads
from wfe_postgres._schedules import _Schedules
from wfe_postgres._writes import _InstanceWrites


class PostgresPersistence(
    _LeasedCreate,
    _InstanceWrites,
    _InstanceReads,
    _EventsAndSubscriptions,
    _ErrorsAndCommands,
    _Schedules,
    _QueueSlots,
):
    """Persistence on PostgreSQL for one or many hosts sharing a database.

    Pointers are rows of their own and a pass writes only those it changed, in one transaction sent in one
    pipeline. Build it with ``PostgresPersistence.from_url(url, schema=..., table_prefix=...)`` or
    ``from_pool(pool)``; call ``ensure_store_exists()`` (the host does) before use. It keeps the slots of
    queues with limits too (``QueueSlotStore``), and with a lock on the same database and schema writes a new
    instance and its lease in one statement (``LeasedCreate``).
    """

    _error: ClassVar[type[ProviderError]] = PersistenceError

    async def ensure_store_exists(self) -> None:
        """Create or migrate the schema. Idempotent, and safe when several hosts call it at once."""
        await self._ensure_schema()

    async def close(self) -> None:
        """Release this provider's claim on the pool once the writes handed to it are done. Idempotent."""
        await self._release_pool()

    async def record_lock_family(self, family: str) -> str:
        """Record the lock family of this store's hosts unless one is recorded; return the recorded one."""
        with wrapped(PersistenceError, "record_lock_family"):
            async with self._pool.connection() as conn:
                await conn.execute(
                    self._layout.q(
                        "INSERT INTO {store_settings} (key, value) VALUES ('lock_family', %s)"
                        " ON CONFLICT (key) DO NOTHING"
                    ),
                    (family,),
                )
                cur = await conn.execute(
                    self._layout.q("SELECT value FROM {store_settings} WHERE key = 'lock_family'")
                )
                row = await cur.fetchone()
        assert row is not None
        return str(row[0])
