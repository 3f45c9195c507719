"""``PostgresPersistence.create_workflow_leased`` and ``persist_workflow_released``: an instance's write and its
lease's in one statement (one commit)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from psycopg import errors as pg_errors
from psycopg import sql

from wfe_core.errors import PersistenceError
from wfe_core.models import ExecutionPointer, Lease, WorkflowInstance
from wfe_core.protocols import LockProvider
from wfe_postgres._arrays import number_array, text_array
from wfe_postgres._failures import wrapped
from wfe_postgres._group_commit import GroupCommit
from wfe_postgres._rows import _row_write, _rows_json, _RowWrite
from wfe_postgres._sql import _CREATE_WORKFLOW_ONCE, _CREATE_WORKFLOWS
from wfe_postgres._writes import _InstanceWrites
from wfe_postgres.lock import PostgresLock

_RETURNED = " SELECT id, name FROM w"
# The leases of the instances the statement inserted (an idempotent start of an existing id inserts none, so
# takes none), taken as ``PostgresLock.acquire`` takes them; each instance's name and fence (NULL: the lease
# was held) come back. Every CTE of one statement commits together, so no lease outlives its instance.
_LEASES = (
    ", l AS (INSERT INTO {locks} AS lk (resource, token, fence, expires_at)"
    " SELECT w.id, u.token, nextval({fence_seq}), clock_timestamp() + make_interval(secs => u.ttl)"
    " FROM w JOIN unnest(%s::text[], %s::text[], %s::float8[]) AS u(resource, token, ttl) ON u.resource = w.id"
    " ON CONFLICT (resource) DO UPDATE SET token = EXCLUDED.token, fence = EXCLUDED.fence,"
    " expires_at = EXCLUDED.expires_at WHERE lk.expires_at <= clock_timestamp()"
    " RETURNING resource, fence)"
    " SELECT w.id, w.name, l.fence FROM w LEFT JOIN l ON l.resource = w.id"
)
assert _CREATE_WORKFLOWS.endswith(_RETURNED) and _CREATE_WORKFLOW_ONCE.endswith(_RETURNED)


@dataclass(frozen=True)
class _LeasedWrite:
    write: _RowWrite
    token: str
    ttl: float


class _LeasedCreate(_InstanceWrites):
    """The ``LeasedCreate`` and ``ReleasingPersist`` parts of ``PostgresPersistence``: with a ``PostgresLock`` on
    the same database and schema, a start writes its instance and takes its lease in one statement, and a run's
    last pass is written and its lease released in one statement. Both are group commits, with the other starts
    and passes asked for at the same time."""

    def leases_with(self, lock: LockProvider) -> bool:
        """True for a ``PostgresLock`` on this database (the same URL or application pool) and layout."""
        return (
            isinstance(lock, PostgresLock)
            and lock._layout == self._layout
            and lock._pool.shares_database(self._pool)
        )

    async def create_workflow_leased(
        self, instance: WorkflowInstance, lock: LockProvider, ttl: timedelta, *, once: bool = False
    ) -> tuple[bool, Lease | None]:
        """See ``wfe_core.protocols.LeasedCreate``."""
        if not isinstance(lock, PostgresLock) or not self.leases_with(lock):
            raise ValueError(
                "create_workflow_leased needs a PostgresLock on this persistence's database and schema: check "
                "leases_with first, or acquire the lease and create the instance separately"
            )
        if not instance.id:
            raise ValueError("create_workflow_leased needs instance.id: set the id the lease is taken on")
        if not self._schema_ready():
            with wrapped(PersistenceError, "create_workflow_leased"):
                await self._ensure_schema()
        item = _LeasedWrite(
            _row_write(instance, instance.execution_pointers), lock.lease_token(), ttl.total_seconds()
        )
        if once:
            found = await self._create_once_leased(instance, item)
            if found is None:
                return False, None
        else:
            found = await self._leased_creates.write(item, instance.id)
        name, fence = found
        instance.name = name
        return True, None if fence is None else Lease(resource=instance.id, token=item.token, fence=fence)

    async def _create_once_leased(
        self, instance: WorkflowInstance, item: _LeasedWrite
    ) -> tuple[str, int | None] | None:
        try:
            rows = await self._run_leased(self._leased_sql[1], [item], "create_workflow_once")
        except PersistenceError as exc:
            if not isinstance(exc.__cause__, pg_errors.UniqueViolation) or not instance.name:
                raise
            await self._name_taken(instance)  # raises, unless the id was stored meanwhile
            return None
        return rows.get(instance.id)

    @functools.cached_property
    def _leased_creates(self) -> GroupCommit[_LeasedWrite, tuple[str, int | None]]:
        return GroupCommit(self._leased_batch)

    async def _leased_batch(
        self, items: Sequence[_LeasedWrite]
    ) -> list[tuple[str, int | None] | BaseException]:
        rows = await self._run_leased(self._leased_sql[0], items, "create_workflow")
        return [rows[item.write.workflow_id] for item in items]

    async def _run_leased(
        self, statement: bytes, items: Sequence[_LeasedWrite], action: str
    ) -> dict[str, tuple[str, int | None]]:
        with wrapped(PersistenceError, action):
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    statement,
                    (
                        _rows_json([item.write for item in items]),
                        text_array([item.write.workflow_id for item in items]),
                        text_array([item.token for item in items]),
                        number_array([item.ttl for item in items]),
                    ),
                )
                return {
                    row[0]: (row[1], None if row[2] is None else int(row[2])) for row in await cur.fetchall()
                }

    @functools.cached_property
    def _leased_sql(self) -> tuple[bytes, bytes]:
        """The statements of a start and of an idempotent start, each taking the leases too."""
        fence_seq = sql.Literal(self._layout.table("lock_fences").as_string())
        ids = self._layout.identifiers()
        return tuple(  # type: ignore[return-value]
            sql.SQL(create.removesuffix(_RETURNED) + _LEASES)
            .format(**ids, fence_seq=fence_seq)
            .as_bytes(None)
            for create in (_CREATE_WORKFLOWS, _CREATE_WORKFLOW_ONCE)
        )

    async def persist_workflow_released(
        self,
        instance: WorkflowInstance,
        lock: LockProvider,
        lease: Lease,
        *,
        pointers: Sequence[ExecutionPointer] | None = None,
        fence: int | None = None,
    ) -> None:
        """See ``wfe_core.protocols.ReleasingPersist``: the pass goes with the passes' group commit, its
        statement deleting the lease's row (by its token) where the fenced update matched."""
        if not self.leases_with(lock):
            raise ValueError(
                "persist_workflow_released needs a PostgresLock on this persistence's database and schema: check "
                "leases_with first, or persist the pass and release the lease separately"
            )
        written = instance.execution_pointers if pointers is None else pointers
        write = replace(_row_write(instance, written, (), fence), release=lease.token)
        await self._pass_writes.write(write, write.workflow_id)
