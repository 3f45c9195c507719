"""LockSuite: the conformance tests every ``LockProvider`` runs against itself."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from wfe_core.models import Lease, new_id
from wfe_core.protocols import LockProvider


class LockSuite:
    """Conformance tests for a ``LockProvider``.

    Subclass it in a class whose name starts with ``Test`` and provide an async fixture ``lock`` that yields a
    started provider whose resources no other test sees (its own key prefix, schema, ...) and stops it
    afterwards. Lease lapses are checked with short ttls (``short_ttl``, 0.3 s by default; raise it for a
    backend whose expiry is coarser) and waits of ``lapse_wait``.

    Example::

        class TestMyLock(LockSuite):
            @pytest.fixture
            async def lock(self):
                provider = MyLock(prefix=unique_prefix())
                await provider.start()
                yield provider
                await provider.stop()
    """

    pytestmark = pytest.mark.asyncio

    short_ttl: timedelta = timedelta(seconds=0.3)
    long_ttl: timedelta = timedelta(seconds=30)

    @property
    def lapse_wait(self) -> float:
        """Seconds to sleep so that a lease taken with ``short_ttl`` has lapsed."""
        return self.short_ttl.total_seconds() + 0.25

    @staticmethod
    def resource() -> str:
        """A resource name no other test uses."""
        return f"res-{new_id()}"

    async def test_acquire_returns_a_lease_on_the_resource(self, lock: LockProvider) -> None:
        resource = self.resource()
        lease = await lock.acquire(resource, self.long_ttl)
        assert lease is not None
        assert lease.resource == resource
        assert lease.token
        assert isinstance(lease.fence, int)

    async def test_second_acquire_fails_even_from_the_same_provider(self, lock: LockProvider) -> None:
        resource = self.resource()
        assert await lock.acquire(resource, self.long_ttl) is not None
        assert await lock.acquire(resource, self.long_ttl) is None

    async def test_different_resources_are_independent(self, lock: LockProvider) -> None:
        assert await lock.acquire(self.resource(), self.long_ttl) is not None
        assert await lock.acquire(self.resource(), self.long_ttl) is not None

    async def test_release_then_reacquire(self, lock: LockProvider) -> None:
        resource = self.resource()
        lease = await lock.acquire(resource, self.long_ttl)
        assert lease is not None
        await lock.release(lease)
        assert await lock.acquire(resource, self.long_ttl) is not None

    async def test_acquire_release_cycles_end_held(self, lock: LockProvider) -> None:
        resource = self.resource()
        for _ in range(5):
            lease = await lock.acquire(resource, self.long_ttl)
            assert lease is not None
            await lock.release(lease)
        assert await lock.acquire(resource, self.long_ttl) is not None
        assert await lock.acquire(resource, self.long_ttl) is None

    async def test_release_is_idempotent_and_accepts_unknown_leases(self, lock: LockProvider) -> None:
        resource = self.resource()
        await lock.release(Lease(resource=resource, token=new_id(), fence=1))
        lease = await lock.acquire(resource, self.long_ttl)
        assert lease is not None
        await lock.release(lease)
        await lock.release(lease)
        assert await lock.acquire(resource, self.long_ttl) is not None

    async def test_release_with_a_foreign_token_does_not_free_the_lock(self, lock: LockProvider) -> None:
        resource = self.resource()
        lease = await lock.acquire(resource, self.long_ttl)
        assert lease is not None
        await lock.release(Lease(resource=resource, token=new_id(), fence=lease.fence))
        assert await lock.acquire(resource, self.long_ttl) is None

    async def test_lease_lapses_after_its_ttl(self, lock: LockProvider) -> None:
        resource = self.resource()
        assert await lock.acquire(resource, self.short_ttl) is not None
        await asyncio.sleep(self.lapse_wait)
        assert await lock.acquire(resource, self.long_ttl) is not None

    async def test_renew_keeps_token_and_fence_and_extends_the_lease(self, lock: LockProvider) -> None:
        resource = self.resource()
        lease = await lock.acquire(resource, self.short_ttl)
        assert lease is not None
        renewed = await lock.renew(lease, self.long_ttl)
        assert renewed is not None
        assert (renewed.resource, renewed.token, renewed.fence) == (lease.resource, lease.token, lease.fence)
        await asyncio.sleep(self.lapse_wait)
        assert await lock.acquire(resource, self.long_ttl) is None
        assert await lock.renew(renewed, self.long_ttl) is not None

    async def test_renew_of_a_lapsed_lease_returns_none(self, lock: LockProvider) -> None:
        lease = await lock.acquire(self.resource(), self.short_ttl)
        assert lease is not None
        await asyncio.sleep(self.lapse_wait)
        assert await lock.renew(lease, self.long_ttl) is None

    async def test_renew_after_another_owner_took_over_returns_none(self, lock: LockProvider) -> None:
        resource = self.resource()
        lease = await lock.acquire(resource, self.short_ttl)
        assert lease is not None
        await asyncio.sleep(self.lapse_wait)
        assert await lock.acquire(resource, self.long_ttl) is not None
        assert await lock.renew(lease, self.long_ttl) is None

    async def test_renew_of_a_released_lease_returns_none(self, lock: LockProvider) -> None:
        lease = await lock.acquire(self.resource(), self.long_ttl)
        assert lease is not None
        await lock.release(lease)
        assert await lock.renew(lease, self.long_ttl) is None

    async def test_fences_strictly_increase(self, lock: LockProvider) -> None:
        resource = self.resource()
        fences: list[int] = []
        for _ in range(3):
            lease = await lock.acquire(resource, self.long_ttl)
            assert lease is not None
            fences.append(lease.fence)
            await lock.release(lease)
        lapsing = await lock.acquire(resource, self.short_ttl)
        assert lapsing is not None
        fences.append(lapsing.fence)
        await asyncio.sleep(self.lapse_wait)
        taken_over = await lock.acquire(resource, self.long_ttl)
        assert taken_over is not None
        fences.append(taken_over.fence)
        assert all(a < b for a, b in zip(fences, fences[1:], strict=False)), fences

    async def test_release_of_a_lapsed_lease_does_not_free_the_new_owner(self, lock: LockProvider) -> None:
        resource = self.resource()
        old = await lock.acquire(resource, self.short_ttl)
        assert old is not None
        await asyncio.sleep(self.lapse_wait)
        new = await lock.acquire(resource, self.long_ttl)
        assert new is not None
        await lock.release(old)
        assert await lock.acquire(resource, self.long_ttl) is None
        assert await lock.renew(new, self.long_ttl) is not None

    async def test_concurrent_acquires_have_one_winner(self, lock: LockProvider) -> None:
        resource = self.resource()
        leases = await asyncio.gather(*(lock.acquire(resource, self.long_ttl) for _ in range(10)))
        assert sum(lease is not None for lease in leases) == 1

    async def test_start_and_stop_are_idempotent(self, lock: LockProvider) -> None:
        await lock.start()
        await lock.start()
        assert await lock.acquire(self.resource(), self.long_ttl) is not None
        await lock.stop()
        await lock.stop()
