"""LeaseTakeoverSuite: the conformance tests of a lock provider that takes over the leases of gone holders."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from datetime import timedelta

import pytest

from wfe_core.lease_owner import LeaseOwner, process_start_time
from wfe_core.protocols import LeaseTakeover, LockProvider

TTL = timedelta(seconds=60)


def gone_process_owner(host_id: str = "") -> LeaseOwner:
    """This machine's holder identity of a process that ran and exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = process_start_time(child.pid)
    child.wait()
    return dataclasses.replace(
        LeaseOwner.of_this_process(host_id or None), pid=child.pid, started=started or "1"
    )


def live_process_owner(host_id: str = "") -> LeaseOwner:
    """This machine's holder identity of another process that is alive (this process's parent)."""
    parent = os.getppid()
    return dataclasses.replace(
        LeaseOwner.of_this_process(host_id or None), pid=parent, started=process_start_time(parent)
    )


class LeaseTakeoverSuite:
    """Conformance tests for a ``LockProvider`` that is also a ``LeaseTakeover``.

    Subclass it in a ``Test...`` class and provide an async fixture ``lock`` as for ``LockSuite``. Holders are
    played by the provider itself: ``take_over(owner)`` makes it take its next leases as ``owner``.
    """

    pytestmark = pytest.mark.asyncio

    async def _held_by(self, lock: LockProvider, owner: LeaseOwner, *resources: str) -> None:
        assert isinstance(lock, LeaseTakeover)
        await lock.take_over(owner)
        for resource in resources:
            lease = await lock.acquire(resource, TTL)
            assert lease is not None
            assert LeaseOwner.from_token(lease.token) == owner, "a lease's token must name its holder"

    async def test_leases_of_a_process_gone_from_this_machine_are_taken_over(
        self, lock: LockProvider
    ) -> None:
        assert isinstance(lock, LeaseTakeover)
        await self._held_by(lock, gone_process_owner(), "wf-gone", "wfe:poller")
        assert sorted(await lock.take_over(LeaseOwner.of_this_process())) == ["wf-gone", "wfe:poller"]
        assert await lock.acquire("wf-gone", TTL) is not None
        assert await lock.acquire("wfe:poller", TTL) is not None

    async def test_leases_of_a_live_process_stay(self, lock: LockProvider) -> None:
        assert isinstance(lock, LeaseTakeover)
        await self._held_by(lock, live_process_owner(), "wf-live")
        assert await lock.take_over(LeaseOwner.of_this_process()) == []
        assert await lock.acquire("wf-live", TTL) is None

    async def test_a_reused_pid_does_not_keep_a_gone_holder_alive(self, lock: LockProvider) -> None:
        assert isinstance(lock, LeaseTakeover)
        live = live_process_owner()
        if not live.started:
            pytest.skip("process start times are not known on this system")
        earlier = dataclasses.replace(live, started=str(int(live.started) + 1))
        await self._held_by(lock, earlier, "wf-reused")
        assert await lock.take_over(LeaseOwner.of_this_process()) == ["wf-reused"]

    async def test_the_predecessor_with_the_same_host_id_is_taken_over_from_any_machine(
        self, lock: LockProvider
    ) -> None:
        assert isinstance(lock, LeaseTakeover)
        elsewhere = dataclasses.replace(
            LeaseOwner.of_this_process("pod-0"), hostname="node-7", boot_id="other", pid=1, started="5"
        )
        await self._held_by(lock, elsewhere, "wf-pod-0")
        assert await lock.take_over(LeaseOwner.of_this_process()) == []
        assert await lock.take_over(LeaseOwner.of_this_process("pod-1")) == []
        assert await lock.acquire("wf-pod-0", TTL) is None
        assert await lock.take_over(LeaseOwner.of_this_process("pod-0")) == ["wf-pod-0"]
        assert await lock.acquire("wf-pod-0", TTL) is not None

    async def test_a_host_id_does_not_take_over_a_live_process_of_another_identity(
        self, lock: LockProvider
    ) -> None:
        assert isinstance(lock, LeaseTakeover)
        await self._held_by(lock, live_process_owner("pod-1"), "wf-pod-1")
        await self._held_by(lock, gone_process_owner("pod-2"), "wf-pod-2")
        assert await lock.take_over(LeaseOwner.of_this_process("pod-0")) == ["wf-pod-2"]
        assert await lock.acquire("wf-pod-1", TTL) is None

    async def test_own_leases_stay(self, lock: LockProvider) -> None:
        assert isinstance(lock, LeaseTakeover)
        me = LeaseOwner.of_this_process("pod-0")
        await self._held_by(lock, me, "wf-mine")
        assert await lock.take_over(me) == []
        assert await lock.acquire("wf-mine", TTL) is None
