"""What a host asks of a store for a slot of a queue with limits, and what the store answers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class SlotRequest:
    """A request for a slot of ``queue`` for instance ``workflow_id``, made at ``now``.

    ``token`` identifies this holding of the slot (renew and release name it); ``expires_at`` is when the slot
    lapses unless renewed. ``concurrency`` bounds the slots held at once (None: no bound); ``rate_limit``
    (count, period) bounds the slots granted within any ``period``. ``priority`` orders the waiters (lower
    first; equal priorities in the order they first asked); a waiter that has not asked again within
    ``waiter_ttl`` no longer counts. ``clock``, when given, is the requester's clock: a store reads it inside its
    atomic section (``at_decision``), so that a start is counted at the time it was decided, not at the time
    the request was made (requests that wait for one another may be decided in another order)."""

    queue: str
    workflow_id: str
    token: str
    now: datetime
    expires_at: datetime
    concurrency: int | None = None
    rate_limit: tuple[int, timedelta] | None = None
    priority: int = 0
    waiter_ttl: timedelta = timedelta(seconds=5)
    clock: Callable[[], datetime] | None = None

    def at_decision(self) -> SlotRequest:
        """This request with ``now`` read from ``clock`` (never earlier than ``now``) and ``expires_at`` moved
        by as much; itself when it has no clock."""
        if self.clock is None:
            return self
        now = max(self.clock(), self.now)
        return replace(self, now=now, expires_at=self.expires_at + (now - self.now), clock=None)


@dataclass(frozen=True, slots=True)
class SlotDecision:
    """The store's answer: ``granted``, or not and (for a rate limit) the earliest time asking again can
    succeed; ``decided_at`` is the time the store decided at (read inside its atomic section: the time a
    grant counts as a start of the queue's rate limit)."""

    granted: bool
    retry_at: datetime | None = None
    decided_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class QueueState:
    """What a store holds for one queue at a time: the instances holding a slot and the live waiters in the
    order they will be served."""

    held: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)


__all__ = ["QueueState", "SlotDecision", "SlotRequest"]
