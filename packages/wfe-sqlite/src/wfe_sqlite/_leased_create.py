"""``SqlitePersistence.create_workflow_leased`` and ``persist_workflow_released``: an instance's write and its
lease's in one job (one transaction)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import timedelta

from wfe_core.models import ExecutionPointer, Lease, WorkflowInstance
from wfe_core.protocols import LockProvider
from wfe_sqlite._lock import SqliteLock
from wfe_sqlite._workflows import _create_job, _create_once_job, _WorkflowStore


class _LeasedCreate(_WorkflowStore):
    """The ``LeasedCreate`` and ``ReleasingPersist`` parts of ``SqlitePersistence``: with a ``SqliteLock`` on the
    same database, a start writes its instance and takes its lease in one job, and a run's last pass is written
    and its lease released in one job, so each in one transaction and one commit, which it shares with the other
    jobs waiting then (group commit)."""

    def leases_with(self, lock: LockProvider) -> bool:
        """True for a ``SqliteLock`` on this very database (the same file, opened in this process)."""
        return isinstance(lock, SqliteLock) and lock.database is self._handle.database

    async def create_workflow_leased(
        self, instance: WorkflowInstance, lock: LockProvider, ttl: timedelta, *, once: bool = False
    ) -> tuple[bool, Lease | None]:
        """See ``wfe_core.protocols.LeasedCreate``: the instance is inserted first, then the lease taken, in one
        job; a job that raises is undone whole (its savepoint), so neither write is kept."""
        if not isinstance(lock, SqliteLock) or not self.leases_with(lock):
            raise ValueError(
                "create_workflow_leased needs a SqliteLock on this persistence's database: check leases_with "
                "first, or acquire the lease and create the instance separately"
            )
        if not instance.id:
            raise ValueError("create_workflow_leased needs instance.id: set the id the lease is taken on")
        workflow_id = instance.id
        create = _create_once_job(instance) if once else _create_job(instance)[1]
        token, acquire = lock.acquire_job(workflow_id, ttl)

        def create_leased(conn: sqlite3.Connection) -> tuple[str | None, int | None]:
            name = create(conn)
            return (None, None) if name is None else (name, acquire(conn))

        name, fence = await self._write(create_leased, "create workflow with its lease")
        if name is None:
            return False, None
        instance.name = name
        return True, None if fence is None else Lease(resource=workflow_id, token=token, fence=fence)

    async def persist_workflow_released(
        self,
        instance: WorkflowInstance,
        lock: LockProvider,
        lease: Lease,
        *,
        pointers: Sequence[ExecutionPointer] | None = None,
        fence: int | None = None,
    ) -> None:
        """See ``wfe_core.protocols.ReleasingPersist``: the release runs in the pass's job once the instance is
        written, so a write the fence refuses (the job raises) releases nothing."""
        if not isinstance(lock, SqliteLock) or not self.leases_with(lock):
            raise ValueError(
                "persist_workflow_released needs a SqliteLock on this persistence's database: check leases_with "
                "first, or persist the pass and release the lease separately"
            )
        await self._persist(instance, pointers, (), (), (), None, fence, lock.release_job(lease))
