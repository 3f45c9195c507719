"""ValkeyLock: the conformance suite plus fences across data loss and connection loss."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from wfe_core.errors import LockError
from wfe_core.models import Lease
from wfe_core.testing import LeaseTakeoverSuite, LockSuite
from wfe_valkey import ValkeyLock
from wfe_valkey_tests.server import delete_keys

pytestmark = pytest.mark.valkey


@pytest.fixture
async def lock(valkey_url: str, prefix: str) -> AsyncIterator[ValkeyLock]:
    """A started lock under the test's key prefix, for the suites and the tests below; stopped after the test."""
    provider = ValkeyLock.from_url(valkey_url, prefix=prefix)
    await provider.start()
    yield provider
    await provider.stop()


class TestValkeyLockConformance(LockSuite):
    """On the module's ``lock`` fixture."""


class TestValkeyLeaseTakeover(LeaseTakeoverSuite):
    """On the module's ``lock`` fixture."""


async def test_lock_key_holds_fence_and_token_and_expires_with_the_ttl(
    lock: ValkeyLock, admin: Redis, prefix: str
) -> None:
    lease = await lock.acquire("wf-1", timedelta(seconds=5))
    assert lease is not None
    assert await admin.get(f"{prefix}:lock:wf-1") == f"{lease.fence}:{lease.token}"
    assert 0 < await admin.pttl(f"{prefix}:lock:wf-1") <= 5000


async def test_fence_keeps_growing_after_the_server_lost_all_keys(
    lock: ValkeyLock, admin: Redis, prefix: str
) -> None:
    before = await lock.acquire("wf-1", timedelta(seconds=30))
    assert before is not None
    assert await delete_keys(admin, prefix) == 2  # the lock and the fence counter: as after a FLUSHDB
    after = await lock.acquire("wf-1", timedelta(seconds=30))
    assert after is not None
    assert after.fence > before.fence


async def test_fences_follow_the_server_clock_in_microseconds(lock: ValkeyLock, admin: Redis) -> None:
    seconds, micros = await admin.time()
    lease = await lock.acquire("wf-1", timedelta(seconds=30))
    assert lease is not None
    assert 0 <= lease.fence - (seconds * 1_000_000 + micros) < 5_000_000


async def test_fences_grow_across_rapid_acquisitions(lock: ValkeyLock) -> None:
    fences = []
    for _ in range(50):
        lease = await lock.acquire("hot", timedelta(seconds=30))
        assert lease is not None
        fences.append(lease.fence)
        await lock.release(lease)
    assert fences == sorted(set(fences))


async def test_one_counter_serves_every_resource(lock: ValkeyLock, admin: Redis, prefix: str) -> None:
    for n in range(20):
        lease = await lock.acquire(f"wf-{n}", timedelta(seconds=30))
        assert lease is not None
        await lock.release(lease)
        assert await admin.get(f"{prefix}:fence") == str(lease.fence)
    assert await admin.pttl(f"{prefix}:fence") == -1  # never expires: the key count stays flat
    assert [key async for key in admin.scan_iter(match=f"{prefix}:*")] == [f"{prefix}:fence"]


async def test_a_retried_acquisition_gets_its_own_lease_back(
    lock: ValkeyLock, admin: Redis, prefix: str
) -> None:
    lease = await lock.acquire("wf-1", timedelta(seconds=30))
    assert lease is not None
    # The script run again with the same token, as after a reply lost on the way back.
    again = await lock._lua().acquire(keys=lock._keys("wf-1"), args=[lease.token, 30_000])
    assert int(again) == lease.fence
    assert await lock.acquire("wf-1", timedelta(seconds=30)) is None


async def test_locks_under_different_prefixes_do_not_meet(valkey_url: str, prefix: str) -> None:
    first = ValkeyLock.from_url(valkey_url, prefix=prefix)
    second = ValkeyLock.from_url(f"{valkey_url}?prefix={prefix}:other")
    try:
        assert await first.acquire("shared-name", timedelta(seconds=30)) is not None
        assert await second.acquire("shared-name", timedelta(seconds=30)) is not None
    finally:
        await first.stop()
        await second.stop()


async def test_two_providers_on_one_url_exclude_each_other(valkey_url: str, prefix: str) -> None:
    first = ValkeyLock.from_url(valkey_url, prefix=prefix)
    second = ValkeyLock.from_url(valkey_url, prefix=prefix)
    await first.start()
    await second.start()
    try:
        lease = await first.acquire("wf-1", timedelta(seconds=30))
        assert lease is not None
        assert await second.acquire("wf-1", timedelta(seconds=30)) is None
        await second.release(lease)  # a lease is the token, not the object that took it
        assert await first.acquire("wf-1", timedelta(seconds=30)) is not None
    finally:
        await first.stop()
        await second.stop()


async def test_acquire_raises_lock_error_when_the_server_stays_away(prefix: str) -> None:
    lock = ValkeyLock.from_url("redis://127.0.0.1:1/0", prefix=prefix, retry_timeout=0.3)
    await lock.start()
    try:
        with pytest.raises(LockError, match="unreachable") as raised:
            await lock.acquire("wf-1", timedelta(seconds=30))
        assert raised.value.__cause__ is not None
    finally:
        await lock.stop()


async def test_renew_returns_none_when_the_server_stays_away(prefix: str) -> None:
    lock = ValkeyLock.from_url("redis://127.0.0.1:1/0", prefix=prefix, retry_timeout=0.3)
    try:
        assert await lock.renew(Lease("wf-1", "token", 1), timedelta(seconds=30)) is None
    finally:
        await lock.stop()
