"""QueueSlotSuite: the conformance tests every ``QueueSlotStore`` runs against itself."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from wfe_core.models import SlotRequest, new_id
from wfe_core.protocols import QueueSlotStore

T0 = datetime(2030, 1, 1, tzinfo=UTC)
TTL = timedelta(seconds=30)


class QueueSlotSuite:
    """Conformance tests for a ``QueueSlotStore``.

    Subclass it in a class whose name starts with ``Test`` and provide an async fixture ``queue_slots`` that
    yields a ready store (for a persistence provider: after ``ensure_store_exists``) and closes it afterwards.
    Every test uses queues of its own and gives the time of each call, so nothing sleeps.
    """

    pytestmark = pytest.mark.asyncio

    @staticmethod
    def queue() -> str:
        return f"q-{new_id()}"

    @staticmethod
    def request(queue: str, workflow_id: str, at: timedelta = timedelta(0), **limits: object) -> SlotRequest:
        now = T0 + at
        return SlotRequest(
            queue=queue,
            workflow_id=workflow_id,
            token=new_id(),
            now=now,
            expires_at=now + TTL,
            **limits,  # type: ignore[arg-type]
        )

    async def test_concurrency_bounds_the_slots_held(self, queue_slots: QueueSlotStore) -> None:
        queue = self.queue()
        granted = [
            (await queue_slots.acquire_queue_slot(self.request(queue, f"w{i}", concurrency=2))).granted
            for i in range(4)
        ]
        assert granted == [True, True, False, False]
        state = await queue_slots.queue_state(queue, T0)
        assert state.held == ["w0", "w1"]
        assert state.waiting == ["w2", "w3"]

    async def test_a_released_slot_goes_to_the_first_waiter(self, queue_slots: QueueSlotStore) -> None:
        queue = self.queue()
        first = self.request(queue, "a", concurrency=1)
        assert (await queue_slots.acquire_queue_slot(first)).granted
        assert not (await queue_slots.acquire_queue_slot(self.request(queue, "b", concurrency=1))).granted
        assert not (
            await queue_slots.acquire_queue_slot(
                self.request(queue, "c", timedelta(seconds=1), concurrency=1)
            )
        ).granted
        await queue_slots.release_queue_slot(first.token)
        await queue_slots.release_queue_slot(first.token)  # idempotent
        later = timedelta(seconds=2)
        # c asks first, but b waits longer: c is refused while b is a live waiter
        assert not (
            await queue_slots.acquire_queue_slot(self.request(queue, "c", later, concurrency=1))
        ).granted
        assert (await queue_slots.acquire_queue_slot(self.request(queue, "b", later, concurrency=1))).granted
        assert (await queue_slots.queue_state(queue, T0 + later)).waiting == ["c"]

    async def test_priority_orders_the_waiters(self, queue_slots: QueueSlotStore) -> None:
        queue = self.queue()
        holder = self.request(queue, "holder", concurrency=1)
        assert (await queue_slots.acquire_queue_slot(holder)).granted
        for name, priority in (("low", 9), ("high", 1), ("mid", 5)):
            decision = await queue_slots.acquire_queue_slot(
                self.request(queue, name, concurrency=1, priority=priority)
            )
            assert not decision.granted
        assert (await queue_slots.queue_state(queue, T0)).waiting == ["high", "mid", "low"]
        await queue_slots.release_queue_slot(holder.token)
        at = timedelta(seconds=1)
        assert not (
            await queue_slots.acquire_queue_slot(self.request(queue, "low", at, concurrency=1, priority=9))
        ).granted
        assert (
            await queue_slots.acquire_queue_slot(self.request(queue, "high", at, concurrency=1, priority=1))
        ).granted

    async def test_a_waiter_that_stops_asking_no_longer_counts(self, queue_slots: QueueSlotStore) -> None:
        queue = self.queue()
        holder = self.request(queue, "holder", concurrency=1)
        await queue_slots.acquire_queue_slot(holder)
        await queue_slots.acquire_queue_slot(self.request(queue, "gone", concurrency=1))
        await queue_slots.release_queue_slot(holder.token)
        later = timedelta(seconds=6)  # past the default waiter_ttl of 5 s
        assert (
            await queue_slots.acquire_queue_slot(self.request(queue, "late", later, concurrency=1))
        ).granted

    async def test_a_slot_lapses_unless_renewed(self, queue_slots: QueueSlotStore) -> None:
        queue = self.queue()
        kept, lost = self.request(queue, "kept", concurrency=2), self.request(queue, "lost", concurrency=2)
        await queue_slots.acquire_queue_slot(kept)
        await queue_slots.acquire_queue_slot(lost)
        renewed = await queue_slots.renew_queue_slots([kept.token], T0 + timedelta(seconds=20), T0 + TTL * 2)
        assert renewed == [kept.token]
        after = T0 + TTL + timedelta(seconds=1)
        assert await queue_slots.renew_queue_slots([lost.token], after, after + TTL) == []
        assert (await queue_slots.queue_state(queue, after)).held == ["kept"]
        newcomer = self.request(queue, "new", TTL + timedelta(seconds=1), concurrency=2)
        assert (await queue_slots.acquire_queue_slot(newcomer)).granted

    async def test_one_slot_per_instance(self, queue_slots: QueueSlotStore) -> None:
        queue = self.queue()
        old = self.request(queue, "w", concurrency=1)
        assert (await queue_slots.acquire_queue_slot(old)).granted
        again = self.request(queue, "w", timedelta(seconds=1), concurrency=1)
        assert (await queue_slots.acquire_queue_slot(again)).granted  # replaces its own slot
        assert await queue_slots.renew_queue_slots([old.token], T0, T0 + TTL) == []
        await queue_slots.release_queue_slot(old.token)  # frees nothing of the newer grant
        assert (await queue_slots.queue_state(queue, T0)).held == ["w"]

    async def test_rate_limit_counts_starts_in_a_sliding_window(self, queue_slots: QueueSlotStore) -> None:
        queue = self.queue()
        limit = (3, timedelta(seconds=1))
        for i in range(3):
            request = self.request(queue, f"w{i}", timedelta(milliseconds=100 * i), rate_limit=limit)
            decision = await queue_slots.acquire_queue_slot(request)
            assert decision.granted
            await queue_slots.release_queue_slot(request.token)
        refused = await queue_slots.acquire_queue_slot(
            self.request(queue, "w3", timedelta(milliseconds=500), rate_limit=limit)
        )
        assert not refused.granted
        assert refused.retry_at == T0 + timedelta(seconds=1)
        assert (
            await queue_slots.acquire_queue_slot(
                self.request(queue, "w3", timedelta(milliseconds=1001), rate_limit=limit)
            )
        ).granted

    async def test_concurrent_requests_never_exceed_the_limit(self, queue_slots: QueueSlotStore) -> None:
        queue = self.queue()
        decisions = await asyncio.gather(
            *(queue_slots.acquire_queue_slot(self.request(queue, f"w{i}", concurrency=3)) for i in range(12))
        )
        assert sum(d.granted for d in decisions) == 3
        assert len((await queue_slots.queue_state(queue, T0)).held) == 3
