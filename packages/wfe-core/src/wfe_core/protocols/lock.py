"""The lock protocol: leases on named resources (a workflow id while it is advanced, a poller scan, ...)."""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol, runtime_checkable

from wfe_core.lease_owner import LeaseOwner
from wfe_core.models import Lease


@runtime_checkable
class LockProvider(Protocol):
    """Mutual exclusion with leases.

    Contract:

    * ``acquire`` never blocks: it returns a ``Lease`` or None when anyone holds the resource, this provider
      object included (locks are not re-entrant).
    * A lease lapses ``ttl`` after it was acquired or last renewed; then anyone may acquire the resource. A host
      that froze past its ttl finds ``renew`` returning None and must not write.
    * ``Lease.fence`` is strictly greater than every fence issued before for the same resource, also across
      restarts of the lock service (derive it from a counter and the clock), so stores can refuse stale writes.
    * ``release`` is idempotent and only releases the lease it is given (a lapsed lease releases nothing of the
      next owner's).
    * Connection loss: ``acquire`` raises ``LockError``; ``renew`` returns None when it cannot confirm the lease.
    """

    async def start(self) -> None:
        """Connect. Idempotent."""

    async def stop(self) -> None:
        """Disconnect. Idempotent; leases are not released by stopping."""

    async def acquire(self, resource: str, ttl: timedelta) -> Lease | None:
        """Take the resource for ``ttl``, or return None when it is held."""

    async def renew(self, lease: Lease, ttl: timedelta) -> Lease | None:
        """Extend a held lease to ``ttl`` from now (same token and fence); None when the lease was lost."""

    async def release(self, lease: Lease) -> None:
        """Give the resource back if this lease still holds it."""


@runtime_checkable
class LeaseTakeover(Protocol):
    """A lock provider whose lease tokens name their holder (``wfe_core.lease_owner``), so a starting host can
    take over the leases of a holder proven gone instead of waiting for them to lapse.

    Contract:

    * ``take_over(owner)`` makes ``owner`` the holder named in every lease this provider acquires from then on,
      and releases every lease held now by a holder that ``owner.supersedes`` (its predecessor with the same
      host identity, or a process on this machine that no longer exists); it returns the resources released.
    * It never releases a lease of a live holder it cannot prove gone, nor one whose token names no holder.
    * Each lease is released by compare-and-set on its token, so a lease renewed or re-taken meanwhile stays.
    """

    async def take_over(self, owner: LeaseOwner) -> list[str]:
        """Hold leases as ``owner`` from now on; release those of holders it supersedes; return their names."""
