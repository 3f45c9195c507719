"""MemoryLock: leases on named resources, for a single process."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import timedelta
from typing import Any, Self

from wfe_core.models import Lease
from wfe_core.providers.memory.url import check_memory_url

_tokens = itertools.count(1)
"""Lease tokens, unique in the process (the only place a memory lock is seen): a counter, not a UUID, which
cost a third of taking a lease."""


class MemoryLock:
    """In-process ``LockProvider``: leases timed on ``time.monotonic()``, fences from per-resource counters.

    Only tasks (and threads) of this process see these locks; use a shared lock service for several hosts.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held: dict[str, tuple[str, float]] = {}
        """resource -> (token, monotonic expiry)"""
        self._fences: dict[str, int] = {}

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """Build from ``memory://``; ``options`` are constructor keywords."""
        check_memory_url(url, cls.__name__)
        return cls(**options)

    async def start(self) -> None:
        """Nothing to connect; idempotent."""

    async def stop(self) -> None:
        """Nothing to disconnect; leases stay as they are. Idempotent."""

    async def acquire(self, resource: str, ttl: timedelta) -> Lease | None:
        now = time.monotonic()
        with self._guard:
            held = self._held.get(resource)
            if held is not None and held[1] > now:
                return None
            fence = self._fences.get(resource, 0) + 1
            self._fences[resource] = fence
            token = f"memory-lease-{next(_tokens)}"
            self._held[resource] = (token, now + ttl.total_seconds())
            return Lease(resource, token, fence)

    async def renew(self, lease: Lease, ttl: timedelta) -> Lease | None:
        now = time.monotonic()
        with self._guard:
            held = self._held.get(lease.resource)
            if held is None or held[0] != lease.token or held[1] <= now:
                return None
            self._held[lease.resource] = (lease.token, now + ttl.total_seconds())
            return lease

    async def release(self, lease: Lease) -> None:
        with self._guard:
            held = self._held.get(lease.resource)
            if held is not None and held[0] == lease.token:
                del self._held[lease.resource]
