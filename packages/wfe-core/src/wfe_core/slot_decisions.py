"""The decision of ``QueueSlotStore.acquire_queue_slot``, shared by the stores: each reads the queue's rows
inside its own atomic section, asks ``decide`` and writes what it says."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from wfe_core.models.queue_slots import SlotDecision, SlotRequest


@dataclass(frozen=True, slots=True)
class Waiter:
    """An instance that asked for a slot of a queue and was refused: its priority, when it first asked and
    until when it counts (its last request's time plus that request's ``waiter_ttl``)."""

    workflow_id: str
    priority: int
    since: datetime
    live_until: datetime


def decide(
    request: SlotRequest,
    holders: Mapping[str, datetime],
    starts: Sequence[datetime],
    waiters: Sequence[Waiter],
) -> SlotDecision:
    """Whether ``request`` gets a slot, given the queue's holders (instance id to expiry), the times of its
    recent starts and its waiters, as the ``QueueSlotStore`` contract says."""
    now = request.now
    capacity: float = math.inf
    if request.concurrency is not None:
        held = sum(
            1
            for workflow_id, expires in holders.items()
            if expires > now and workflow_id != request.workflow_id
        )
        capacity = request.concurrency - held
    retry_at = None
    if request.rate_limit is not None:
        count, period = request.rate_limit
        window = sorted(t for t in starts if t > now - period)
        if len(window) >= count:
            retry_at = window[len(window) - count] + period
        capacity = min(capacity, count - len(window))
    if capacity <= 0:
        return SlotDecision(False, retry_at, now)
    if capacity == math.inf:
        return SlotDecision(True, None, now)
    mine = next((w for w in waiters if w.workflow_id == request.workflow_id), None)
    key = (request.priority, mine.since if mine is not None else now, request.workflow_id)
    ahead = sum(
        1
        for w in waiters
        if w.workflow_id != request.workflow_id
        and w.live_until > now
        and (w.priority, w.since, w.workflow_id) < key
    )
    return SlotDecision(ahead < capacity, None, now)


def serving_order(waiters: Sequence[Waiter], now: datetime) -> list[str]:
    """The ids of the live ``waiters`` at ``now`` in the order they are served (lower priority first, then
    first asked)."""
    live = [w for w in waiters if w.live_until > now]
    return [w.workflow_id for w in sorted(live, key=lambda w: (w.priority, w.since, w.workflow_id))]


__all__ = ["Waiter", "decide", "serving_order"]
