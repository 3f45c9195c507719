"""Optional capabilities of a persistence provider whose store holds the leases too: a new instance written with
its lease (``LeasedCreate``), a run's last pass written with its release (``ReleasingPersist``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol, runtime_checkable

from wfe_core.models import ExecutionPointer, Lease, WorkflowInstance
from wfe_core.protocols.lock import LockProvider


@runtime_checkable
class LeasedCreate(Protocol):
    """Optional for a ``PersistenceProvider`` whose store can also hold a ``LockProvider``'s leases (the same
    SQLite file, the same PostgreSQL schema): a host starting an instance it runs at once then writes the
    instance and takes its lease in one transaction and one commit, instead of a lease acquire and a create that
    each wait for a commit of their own. A host whose providers lack it (or whose lock keeps its leases
    elsewhere) makes the two writes, lease first.

    Contract:

    * ``leases_with(lock)`` is True only when ``lock`` keeps its leases in this store, so that one transaction
      can write both; it never does I/O. The host calls ``create_workflow_leased`` only with such a lock.
    * ``create_workflow_leased(instance, lock, ttl, once=...)`` stores the instance exactly as
      ``create_workflow`` does (``once=False``) or as ``create_workflow_once`` does (``once=True``), and in the
      same transaction takes ``lock``'s lease on ``instance.id`` for ``ttl`` exactly as ``lock.acquire`` would:
      same token holder, a fence greater than every fence issued before for that resource, lapsing ``ttl``
      after it was taken, released by ``lock.release``. ``instance.id`` must be set.
    * It returns ``(created, lease)``. ``created`` is what ``create_workflow_once`` would return (always True
      with ``once=False``); when it is False nothing is written and no lease is taken (``lease`` is None).
      ``lease`` is None when someone holds the resource: the instance is stored all the same (the caller then
      queues it) and the holder's lease is left as it was.
    * All or nothing: it returns only once both writes are durable, and when it raises (a name another
      instance has: ``WorkflowNameTakenError``; a store error) neither was kept, so no lease outlives an
      instance that was never stored. A crash leaves both or neither.
    * Safe to call concurrently; calls at the same time may share one transaction and commit (group commit),
      each call's two writes staying all or nothing.
    """

    def leases_with(self, lock: LockProvider) -> bool:
        """Whether ``lock`` keeps its leases in this store (one transaction can write an instance and a lease)."""

    async def create_workflow_leased(
        self, instance: WorkflowInstance, lock: LockProvider, ttl: timedelta, *, once: bool = False
    ) -> tuple[bool, Lease | None]:
        """Store the new instance and take ``lock``'s lease on its id for ``ttl``, in one transaction."""


@runtime_checkable
class ReleasingPersist(Protocol):
    """Optional for a ``PersistenceProvider`` whose store can also hold a ``LockProvider``'s leases: a run's last
    pass (the one that completes its instance) is written and its lease released in one transaction, instead of
    a write and a release that each cost a statement and a commit.

    Contract:

    * ``leases_with(lock)`` as in ``LeasedCreate``; the host calls ``persist_workflow_released`` only with such a
      lock.
    * ``persist_workflow_released(instance, lock, lease, pointers=..., fence=...)`` writes exactly what
      ``persist_workflow(instance, pointers=pointers, fence=fence)`` writes (a pass that subscribes to, delivers
      and announces nothing) and, in the same transaction, releases ``lease`` as ``lock.release(lease)`` would
      (only while that lease still holds the resource: a lease taken since by another holder stays).
    * All or nothing: a write the fence refuses raises ``LeaseLostError`` and releases nothing; a store error
      keeps neither. It returns once both are durable.
    """

    def leases_with(self, lock: LockProvider) -> bool:
        """Whether ``lock`` keeps its leases in this store (one transaction can write a pass and a release)."""

    async def persist_workflow_released(
        self,
        instance: WorkflowInstance,
        lock: LockProvider,
        lease: Lease,
        *,
        pointers: Sequence[ExecutionPointer] | None = None,
        fence: int | None = None,
    ) -> None:
        """``persist_workflow(instance, pointers=pointers, fence=fence)`` and ``lock.release(lease)`` at once."""
