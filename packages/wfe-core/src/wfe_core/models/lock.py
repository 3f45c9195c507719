"""The handle a lock provider returns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Lease:
    """A held lock.

    ``token`` proves ownership for renew and release. ``fence`` grows with every acquisition of the same
    resource (also across restarts of the lock service), so a store can refuse writes from an older lease.
    """

    resource: str
    token: str
    fence: int
