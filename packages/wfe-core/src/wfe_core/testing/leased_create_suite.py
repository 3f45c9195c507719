"""LeasedCreateSuite and ReleasingPersistSuite: the conformance tests of ``LeasedCreate`` (a new instance and its
lease in one write) and ``ReleasingPersist`` (a run's last pass and its lease's release in one write)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from wfe_core.errors import LeaseLostError, WorkflowNameTakenError
from wfe_core.models import ExecutionPointer, PointerStatus, WorkflowInstance, WorkflowStatus, new_id
from wfe_core.protocols import LeasedCreate, LockProvider, PersistenceProvider, ReleasingPersist


def _instance(definition_id: str, *, workflow_id: str | None = None, name: str = "") -> WorkflowInstance:
    now = datetime.now(UTC).replace(microsecond=0)
    return WorkflowInstance(
        id=workflow_id or new_id(),
        name=name,
        workflow_definition_id=definition_id,
        version=1,
        create_time=now,
        execution_pointers=[ExecutionPointer(step_id=0)],
    )


class LeasedCreateSuite:
    """Conformance tests for a persistence provider with ``LeasedCreate``.

    Subclass it in a class whose name starts with ``Test`` and provide two async fixtures on one store that no
    other test sees: ``persistence`` (a ready ``PersistenceProvider`` with ``LeasedCreate``) and ``lock`` (a
    started ``LockProvider`` keeping its leases in that store, so ``persistence.leases_with(lock)`` is True).
    """

    pytestmark = pytest.mark.asyncio

    ttl: timedelta = timedelta(seconds=30)

    @staticmethod
    def definition() -> str:
        return f"def-{new_id()[-8:]}"

    @staticmethod
    def leased(persistence: PersistenceProvider) -> LeasedCreate:
        assert isinstance(persistence, LeasedCreate)
        return persistence

    async def test_the_lock_of_the_same_store_qualifies(
        self, persistence: PersistenceProvider, lock: LockProvider
    ) -> None:
        assert self.leased(persistence).leases_with(lock) is True

    async def test_stores_the_instance_and_holds_its_lease(
        self, persistence: PersistenceProvider, lock: LockProvider
    ) -> None:
        definition_id = self.definition()
        instance = _instance(definition_id)
        created, lease = await self.leased(persistence).create_workflow_leased(instance, lock, self.ttl)
        assert created is True
        assert lease is not None
        assert lease.resource == instance.id
        assert lease.token
        assert instance.name == f"{definition_id}-1"
        stored = await persistence.get_workflow(instance.id)
        assert stored.name == instance.name
        assert len(stored.execution_pointers) == 1
        # held as a lease from lock.acquire is: nobody takes it, renew keeps it, release frees it
        assert await lock.acquire(instance.id, self.ttl) is None
        assert await lock.renew(lease, self.ttl) == lease
        await lock.release(lease)
        again = await lock.acquire(instance.id, self.ttl)
        assert again is not None
        assert again.fence > lease.fence

    async def test_the_fence_follows_every_fence_issued_before(
        self, persistence: PersistenceProvider, lock: LockProvider
    ) -> None:
        workflow_id = new_id()
        earlier = await lock.acquire(workflow_id, self.ttl)
        assert earlier is not None
        await lock.release(earlier)
        instance = _instance(self.definition(), workflow_id=workflow_id)
        created, lease = await self.leased(persistence).create_workflow_leased(instance, lock, self.ttl)
        assert created is True
        assert lease is not None
        assert lease.fence > earlier.fence

    async def test_a_held_resource_still_stores_the_instance_and_keeps_the_holder(
        self, persistence: PersistenceProvider, lock: LockProvider
    ) -> None:
        workflow_id = new_id()
        holder = await lock.acquire(workflow_id, self.ttl)
        assert holder is not None
        instance = _instance(self.definition(), workflow_id=workflow_id)
        created, lease = await self.leased(persistence).create_workflow_leased(instance, lock, self.ttl)
        assert (created, lease) == (True, None)
        assert (await persistence.get_workflow(workflow_id)).id == workflow_id
        assert await lock.renew(holder, self.ttl) == holder

    async def test_once_with_an_existing_id_writes_nothing_and_takes_no_lease(
        self, persistence: PersistenceProvider, lock: LockProvider
    ) -> None:
        definition_id = self.definition()
        workflow_id = f"order-{new_id()[-8:]}"
        first = _instance(definition_id, workflow_id=workflow_id)
        assert await persistence.create_workflow_once(first) is True
        again = _instance(definition_id, workflow_id=workflow_id, name=f"other-{new_id()[-8:]}")
        leased = self.leased(persistence)
        assert await leased.create_workflow_leased(again, lock, self.ttl, once=True) == (False, None)
        assert (await persistence.get_workflow(workflow_id)).name == first.name
        assert await lock.acquire(workflow_id, self.ttl) is not None  # no lease was taken

    async def test_once_with_a_new_id_stores_it_with_its_lease(
        self, persistence: PersistenceProvider, lock: LockProvider
    ) -> None:
        name = f"release-{new_id()[-8:]}"
        instance = _instance(self.definition(), name=name)
        created, lease = await self.leased(persistence).create_workflow_leased(
            instance, lock, self.ttl, once=True
        )
        assert created is True
        assert lease is not None
        assert (await persistence.get_workflow(name)).id == instance.id
        assert await lock.acquire(instance.id, self.ttl) is None

    async def test_a_taken_name_keeps_neither_write(
        self, persistence: PersistenceProvider, lock: LockProvider
    ) -> None:
        definition_id = self.definition()
        name = f"release-{new_id()[-8:]}"
        first = _instance(definition_id, name=name)
        assert await persistence.create_workflow_once(first) is True
        clash = _instance(definition_id, name=name)
        with pytest.raises(WorkflowNameTakenError) as raised:
            await self.leased(persistence).create_workflow_leased(clash, lock, self.ttl, once=True)
        assert raised.value.existing_id == first.id
        assert await persistence.get_workflows([clash.id]) == []
        assert await lock.acquire(clash.id, self.ttl) is not None  # the lease was not kept either

    async def test_concurrent_creates_each_get_their_instance_and_lease(
        self, persistence: PersistenceProvider, lock: LockProvider
    ) -> None:
        definition_id = self.definition()
        instances = [_instance(definition_id) for _ in range(20)]
        leased = self.leased(persistence)
        results = await asyncio.gather(
            *(leased.create_workflow_leased(instance, lock, self.ttl) for instance in instances)
        )
        assert all(created for created, _ in results)
        leases = [lease for _, lease in results]
        assert all(lease is not None for lease in leases)
        assert sorted(lease.resource for lease in leases if lease is not None) == sorted(
            i.id for i in instances
        )
        names = {i.name for i in instances}
        assert names == {f"{definition_id}-{n}" for n in range(1, 21)}
        stored = await persistence.get_workflows([i.id for i in instances])
        assert len(stored) == 20


class ReleasingPersistSuite:
    """Conformance tests for a persistence provider with ``ReleasingPersist``; the fixtures of
    ``LeasedCreateSuite`` (``persistence`` and a ``lock`` in the same store)."""

    pytestmark = pytest.mark.asyncio

    ttl: timedelta = timedelta(seconds=30)

    @staticmethod
    def releasing(persistence: PersistenceProvider) -> ReleasingPersist:
        assert isinstance(persistence, ReleasingPersist)
        return persistence

    async def test_the_last_pass_is_written_and_its_lease_released(
        self, persistence: PersistenceProvider, lock: LockProvider
    ) -> None:
        instance = _instance(f"def-{new_id()[-8:]}")
        await persistence.create_workflow(instance)
        lease = await lock.acquire(instance.id, self.ttl)
        assert lease is not None
        await persistence.claim_workflow(instance.id, lease.fence)
        instance.status = WorkflowStatus.COMPLETE
        instance.execution_pointers[0].status = PointerStatus.COMPLETE
        await self.releasing(persistence).persist_workflow_released(
            instance, lock, lease, pointers=instance.execution_pointers, fence=lease.fence
        )
        stored = await persistence.get_workflow(instance.id)
        assert stored.status is WorkflowStatus.COMPLETE
        assert stored.execution_pointers[0].status is PointerStatus.COMPLETE
        assert await lock.renew(lease, self.ttl) is None  # released
        again = await lock.acquire(instance.id, self.ttl)
        assert again is not None
        assert again.fence > lease.fence

    async def test_a_refused_pass_releases_nothing_and_a_newer_lease_stays(
        self, persistence: PersistenceProvider, lock: LockProvider
    ) -> None:
        instance = _instance(f"def-{new_id()[-8:]}")
        await persistence.create_workflow(instance)
        old = await lock.acquire(instance.id, self.ttl)
        assert old is not None
        await persistence.claim_workflow(instance.id, old.fence)
        await lock.release(old)
        newer = await lock.acquire(instance.id, self.ttl)
        assert newer is not None
        await persistence.claim_workflow(instance.id, newer.fence)
        instance.status = WorkflowStatus.COMPLETE
        with pytest.raises(LeaseLostError):
            await self.releasing(persistence).persist_workflow_released(instance, lock, old, fence=old.fence)
        assert (await persistence.get_workflow(instance.id)).status is WorkflowStatus.RUNNABLE
        assert await lock.renew(newer, self.ttl) == newer
        assert await lock.acquire(instance.id, self.ttl) is None

    async def test_a_lease_lapsed_and_taken_by_another_holder_stays(
        self, persistence: PersistenceProvider, lock: LockProvider
    ) -> None:
        instance = _instance(f"def-{new_id()[-8:]}")
        await persistence.create_workflow(instance)
        old = await lock.acquire(instance.id, self.ttl)
        assert old is not None
        await lock.release(old)
        newer = await lock.acquire(instance.id, self.ttl)
        assert newer is not None
        # the store accepts the write (no newer fence was claimed), but the release is by the old token only
        await self.releasing(persistence).persist_workflow_released(instance, lock, old, fence=old.fence)
        assert await lock.renew(newer, self.ttl) == newer
