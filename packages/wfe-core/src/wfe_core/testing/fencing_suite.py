"""FencedWritesSuite: a store refuses the writes of a lease that lapsed (part of ``PersistenceSuite``).

Every write of a run carries the fence of its lease; a store keeps the highest fence it has seen for each
instance (written or claimed) and refuses anything older, writing nothing of it, and runs the host's lease
check (``wfe_core.write_guard``) again as it writes."""

from __future__ import annotations

import pytest

from wfe_core.errors import LeaseLostError, SubscriptionNotFoundError, WorkflowNotFoundError
from wfe_core.models import new_id
from wfe_core.protocols import PersistenceProvider
from wfe_core.testing.persistence_helpers import PersistenceHelpers, utc_now
from wfe_core.write_guard import guarded_writes


class FencedWritesSuite(PersistenceHelpers):
    """Mixed into ``PersistenceSuite``; uses its ``persistence`` fixture."""

    pytestmark = pytest.mark.asyncio

    async def test_an_older_fence_is_refused_and_nothing_is_written(
        self, persistence: PersistenceProvider
    ) -> None:
        pointer = self.pointer(0)
        instance = self.instance(description="v0", execution_pointers=[pointer])
        await persistence.create_workflow(instance)
        instance.description = "v5"
        await persistence.persist_workflow(instance, fence=5)
        instance.description = "v5 again"
        await persistence.persist_workflow(instance, fence=5)
        instance.description = "v7"
        await persistence.persist_workflow(instance, fence=7)

        stale = instance.model_copy(deep=True)
        stale.description = "stale"
        stale.execution_pointers[0].retry_count = 9
        late_subscription = self.subscription(instance.id, "stale-event", instance.id, utc_now())
        with pytest.raises(LeaseLostError):
            await persistence.persist_workflow(stale, subscriptions=[late_subscription], fence=6)

        loaded = await persistence.get_workflow(instance.id)
        assert loaded.description == "v7"
        assert loaded.pointer(pointer.id).retry_count == 0
        assert await persistence.get_subscriptions("stale-event", instance.id, utc_now()) == []
        with pytest.raises(SubscriptionNotFoundError):
            await persistence.get_subscription(late_subscription.id)
        instance.description = "v8"
        await persistence.persist_workflow(instance, fence=8)
        assert (await persistence.get_workflow(instance.id)).description == "v8"

    async def test_a_claimed_fence_refuses_older_writes_before_the_claimer_wrote(
        self, persistence: PersistenceProvider
    ) -> None:
        instance = self.instance(description="v0", execution_pointers=[self.pointer(0)])
        await persistence.create_workflow(instance)
        await persistence.persist_workflow(instance, fence=3)
        await persistence.claim_workflow(instance.id, 4)
        await persistence.claim_workflow(instance.id, 4)  # claiming again with the same fence is fine
        stale = instance.model_copy(deep=True)
        stale.description = "written by the holder of fence 3 after fence 4 was claimed"
        with pytest.raises(LeaseLostError):
            await persistence.persist_workflow(stale, fence=3)
        with pytest.raises(LeaseLostError):
            await persistence.claim_workflow(instance.id, 2)
        assert (await persistence.get_workflow(instance.id)).description == "v0"
        instance.description = "v4"
        await persistence.persist_workflow(instance, fence=4)
        assert (await persistence.get_workflow(instance.id)).description == "v4"
        with pytest.raises(WorkflowNotFoundError):
            await persistence.claim_workflow(new_id(), 1)

    async def test_a_fenced_write_is_refused_when_its_guard_fails_as_it_is_written(
        self, persistence: PersistenceProvider
    ) -> None:
        """The host's lease check (``wfe_core.write_guard``) is run again as the store writes: a write asked for
        while the lease was held, but sent after it lapsed (the host froze meanwhile), writes nothing."""
        instance = self.instance(description="v0", execution_pointers=[self.pointer(0)])
        await persistence.create_workflow(instance)
        await persistence.persist_workflow(instance, fence=3)
        held = True

        def check() -> None:
            if not held:
                raise LeaseLostError(instance.id, "lapsed")

        with guarded_writes(check):
            await persistence.claim_workflow(instance.id, 4)
            held = False
            stale = instance.model_copy(deep=True)
            stale.description = "written after the lease lapsed"
            stale.execution_pointers[0].retry_count = 9
            with pytest.raises(LeaseLostError):
                await persistence.claim_workflow(instance.id, 5)
            with pytest.raises(LeaseLostError):
                await persistence.persist_workflow(stale, fence=4)
            late_subscription = self.subscription(instance.id, "late-event", instance.id, utc_now())
            with pytest.raises(LeaseLostError):
                await persistence.persist_workflow(
                    stale, subscriptions=[late_subscription], now=utc_now(), fence=4
                )
        loaded = await persistence.get_workflow(instance.id)
        assert loaded.description == "v0"
        assert loaded.pointer(instance.execution_pointers[0].id).retry_count == 0
        assert await persistence.get_subscriptions("late-event", instance.id, utc_now()) == []
        # unfenced writes and writes outside the block are not the guard's business
        await persistence.persist_workflow(instance, fence=5)
        assert (await persistence.get_workflow(instance.id)).description == "v0"
