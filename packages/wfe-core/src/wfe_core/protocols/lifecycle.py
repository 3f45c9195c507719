"""The lifecycle hub protocol: lifecycle events delivered to every subscriber of every host."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from wfe_core.models import LifecycleEvent

LifecycleCallback = Callable[[LifecycleEvent], Awaitable[None] | None]


@runtime_checkable
class LifecycleHub(Protocol):
    """Carries lifecycle events between hosts.

    Contract: every event passed to ``publish`` on any host attached to the same hub reaches every callback
    registered with ``subscribe`` on every started host, once, with events of one instance in publish order.
    A callback that raises is logged and does not stop delivery to others. Delivery is best-effort: events
    published while a host is disconnected may be missed by it.
    """

    async def start(self) -> None:
        """Connect and begin delivering. Idempotent."""

    async def stop(self) -> None:
        """Stop delivering and disconnect. Idempotent."""

    async def publish(self, event: LifecycleEvent) -> None:
        """Send the event to every subscriber."""

    def subscribe(self, callback: LifecycleCallback) -> None:
        """Register a sync or async callback (before or after ``start``)."""
