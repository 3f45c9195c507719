"""The lifecycle hub protocol: lifecycle events delivered to every subscriber of every host."""

from __future__ import annotations

import threading
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


@runtime_checkable
class LifecycleInterest(Protocol):
    """Optional, for a hub that can see every subscriber of every host attached to it (an in-process hub): the
    kinds of event they take, so that a host builds and publishes only those (a step's events cost a pass as
    much as the rest of its bookkeeping when nobody reads them).

    Contract: ``wanted_kinds()`` returns None when any kind may be taken (a subscriber that takes every kind,
    or one the hub cannot ask), otherwise the set of kind names (``event.kind``) some subscriber takes: an
    event of any other kind reaches nobody, so a host may skip building it. A subscriber states what it takes
    by having a ``wanted_kinds()`` method of its own with the same meaning (a plain callback takes every
    kind), and calls ``interest_changed()`` whenever its answer changes (a hub may keep its answer until then).
    The answer may change whenever a subscriber is added or changes its mind; hosts ask at each pass.
    A hub that carries events to other processes cannot know their subscribers and does not implement this.
    """

    def wanted_kinds(self) -> frozenset[str] | None:
        """The kinds some subscriber takes, or None for every kind."""


_interest_generation = 0
_interest_guard = threading.Lock()


def interest_changed() -> None:
    """Say that some subscriber's ``wanted_kinds()`` answer changed (hubs that keep their answer ask again)."""
    global _interest_generation
    with _interest_guard:  # subscribers of hubs in other threads' loops change their minds too
        _interest_generation += 1


def interest_generation() -> int:
    """A number that grows at every ``interest_changed()``: a kept answer is good while it is the same."""
    return _interest_generation


def wanted_kinds_of(callback: LifecycleCallback) -> frozenset[str] | None:
    """What one subscriber takes: its own ``wanted_kinds()`` when it has one, otherwise every kind (None)."""
    ask = getattr(callback, "wanted_kinds", None)
    return ask() if callable(ask) else None
