"""``ValkeyLock``: leases on named resources, with fencing tokens that survive a data loss of the server."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from wfe_core.errors import ConfigurationError, LockError
from wfe_core.lease_owner import LeaseOwner, TakeoverCheck
from wfe_core.models import Lease
from wfe_valkey._connection import ClientHandle
from wfe_valkey._options import as_seconds, from_url_options
from wfe_valkey._retry import call_script

logger = logging.getLogger("wfe_valkey")

# The lock key holds "<fence>:<token>". Fences come from one counter per prefix, {prefix}:fence, set to
# max(counter + 1, server time in microseconds): the counter orders acquisitions within one microsecond and
# survives the clock stepping back; the clock keeps fences growing after the server lost its data (a restart
# without persistence, a flush, a failover to an empty replica). One counter for all resources keeps the key
# count flat however many workflows are locked, and a fence larger than every earlier one of any resource is
# in particular larger than every earlier one of the same resource.
# A retry of an acquisition whose reply was lost (same token) gets its lease back instead of finding it held.
_ACQUIRE = """
local holder = redis.call('GET', KEYS[1])
if holder then
  local sep = string.find(holder, ':', 1, true)
  if sep and string.sub(holder, sep + 1) == ARGV[1] then
    return string.sub(holder, 1, sep - 1)
  end
  return false
end
local now = redis.call('TIME')
local now_us = tonumber(now[1]) * 1000000 + tonumber(now[2])
local last = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
local fence = string.format('%.0f', math.max(last + 1, now_us))
redis.call('SET', KEYS[2], fence)
redis.call('SET', KEYS[1], fence .. ':' .. ARGV[1], 'PX', ARGV[2])
return fence
"""

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


@dataclass(frozen=True, slots=True)
class _Scripts:
    acquire: AsyncScript
    renew: AsyncScript
    release: AsyncScript


def _millis(ttl: timedelta) -> int:
    ms = int(ttl.total_seconds() * 1000)
    if ms <= 0:
        raise ConfigurationError(f"lease ttl must be positive, got {ttl}")
    return ms


class ValkeyLock:
    """A ``LockProvider`` on Valkey or Redis: ``{prefix}:lock:{resource}``, set only when absent, expiring after
    the ttl (``SET ... NX PX`` semantics, in a Lua script that also draws the fence).

    Renewal and release are Lua scripts that first compare the stored fence and token with the lease's, so a
    host whose lease lapsed can neither extend nor release the next owner's lease. Fences come from the
    counter ``{prefix}:fence`` (see ``_ACQUIRE``) and grow also across a data loss of the server.

    Args:
        url: ``redis://``, ``rediss://`` (TLS), ``valkey://`` or ``valkeys://`` (TLS), with optional user,
            password and database number. Providers given the same URL in one process share a client.
        prefix: Key prefix, so several deployments can share one server.
        client: Use this redis-py client instead of one made from ``url`` (it is not closed by ``stop``).
        retry_timeout: Seconds to keep retrying while the server is unreachable before raising ``LockError``.
        reply_timeout: Seconds to wait for a reply before the connection counts as dead and the call is
            retried on a new one. ``renew`` gives up within half the ttl whatever these two say.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "wfe",
        client: Redis | None = None,
        retry_timeout: float = 10.0,
        reply_timeout: float = 10.0,
    ) -> None:
        self._retry_timeout = as_seconds("Valkey lock", "retry_timeout", retry_timeout)
        self._reply_timeout = as_seconds("Valkey lock", "reply_timeout", reply_timeout)
        self._handle = ClientHandle(url, client)
        self._prefix = prefix
        self._scripts: _Scripts | None = None
        self._owner = LeaseOwner.of_this_process()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> ValkeyLock:
        """Build from a URL; the keyword options also work as query options (``?prefix=orders``)."""
        return cls(
            url,
            **from_url_options(url, options, ("prefix", "retry_timeout", "reply_timeout")),
        )

    async def start(self) -> None:
        """Take the (possibly shared) client. Idempotent; the connection itself opens on first use."""
        self._lua()

    async def stop(self) -> None:
        """Give the client back. Idempotent; held leases stay until they lapse."""
        self._scripts = None
        await self._handle.release()

    async def acquire(self, resource: str, ttl: timedelta) -> Lease | None:
        """Take the resource for ``ttl``, or return None when anyone (this object too) holds it."""
        token = self._owner.token()
        fence = await call_script(
            self._lua().acquire,
            self._keys(resource),
            [token, _millis(ttl)],
            what=f"acquiring lock '{resource}'",
            error=LockError,
            retry_timeout=self._retry_timeout,
            reply_timeout=self._reply_timeout,
        )
        if fence is None:
            return None
        return Lease(resource=resource, token=token, fence=int(fence))

    async def renew(self, lease: Lease, ttl: timedelta) -> Lease | None:
        """Extend the lease to ``ttl`` from now; None when it was lost or the server cannot confirm it."""
        # An answer that comes after the lease may have lapsed is worthless: give up within half the ttl.
        budget = ttl.total_seconds() / 2
        try:
            renewed = await call_script(
                self._lua().renew,
                self._keys(lease.resource),
                [_held_value(lease), _millis(ttl)],
                what=f"renewing lock '{lease.resource}'",
                error=LockError,
                retry_timeout=min(self._retry_timeout, budget),
                reply_timeout=min(self._reply_timeout, budget),
            )
        except LockError:
            logger.warning(
                "could not renew lock '%s'; treating the lease as lost", lease.resource, exc_info=True
            )
            return None
        return lease if renewed == 1 else None

    async def release(self, lease: Lease) -> None:
        """Delete the lock key if this lease still holds it. Idempotent."""
        await call_script(
            self._lua().release,
            self._keys(lease.resource),
            [_held_value(lease)],
            what=f"releasing lock '{lease.resource}'",
            error=LockError,
            retry_timeout=self._retry_timeout,
            reply_timeout=self._reply_timeout,
        )

    async def take_over(self, owner: LeaseOwner) -> list[str]:
        """Hold leases as ``owner`` from now on, and release the leases of holders it supersedes (this host
        identity's predecessor, or a process on this machine that is gone); return the resources released."""
        self._owner = owner
        check = TakeoverCheck(owner)
        client = self._handle.acquire()
        scripts = self._lua()
        lock_prefix = f"{self._prefix}:lock:"
        released: list[str] = []
        try:
            async for key in client.scan_iter(match=f"{lock_prefix}*", count=500):
                held = await client.get(key)
                _, _, token = str(held or "").partition(":")
                if held is not None and check.gone(token):
                    resource = str(key)[len(lock_prefix) :]
                    if await scripts.release(keys=self._keys(resource), args=[held]) == 1:
                        released.append(resource)
        except Exception as exc:
            raise LockError(
                f"taking over the leases of a holder that is gone failed: {exc} (is the server reachable?)"
            ) from exc
        return released

    def _lua(self) -> _Scripts:
        client = self._handle.acquire()
        if self._scripts is None:
            self._scripts = _Scripts(
                acquire=client.register_script(_ACQUIRE),
                renew=client.register_script(_RENEW),
                release=client.register_script(_RELEASE),
            )
        return self._scripts

    def _keys(self, resource: str) -> list[str]:
        return [f"{self._prefix}:lock:{resource}", f"{self._prefix}:fence"]


def _held_value(lease: Lease) -> str:
    """What the lock key holds while ``lease`` holds the resource."""
    return f"{lease.fence}:{lease.token}"
