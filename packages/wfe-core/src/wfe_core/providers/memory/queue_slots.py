"""``QueueSlotStore`` in memory: the slots of one process's hosts."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from wfe_core.models.queue_slots import QueueState, SlotDecision, SlotRequest
from wfe_core.slot_decisions import Waiter, decide, serving_order


@dataclass
class _Queue:
    holders: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    """workflow id -> (token, expires_at)"""
    starts: list[datetime] = field(default_factory=list)
    waiters: dict[str, Waiter] = field(default_factory=dict)


class MemoryQueueSlots:
    """Queue slots kept in dicts, safe for the tasks and threads of one process (mixed into
    ``MemoryPersistence``)."""

    def __init__(self) -> None:
        self._slots_guard = threading.Lock()
        self._queues: dict[str, _Queue] = {}
        self._tokens: dict[str, tuple[str, str]] = {}
        """token -> (queue, workflow id)"""

    async def acquire_queue_slot(self, request: SlotRequest) -> SlotDecision:
        with self._slots_guard:
            request = request.at_decision()
            queue = self._queues.setdefault(request.queue, _Queue())
            now = request.now
            for workflow_id, (token, expires) in list(queue.holders.items()):
                if expires <= now:
                    del queue.holders[workflow_id]
                    self._tokens.pop(token, None)
            if request.rate_limit is not None:
                queue.starts = [t for t in queue.starts if t > now - request.rate_limit[1]]
            holders = {w: expires for w, (_, expires) in queue.holders.items()}
            decision = decide(request, holders, queue.starts, list(queue.waiters.values()))
            if decision.granted:
                previous = queue.holders.get(request.workflow_id)
                if previous is not None:
                    self._tokens.pop(previous[0], None)
                queue.holders[request.workflow_id] = (request.token, request.expires_at)
                self._tokens[request.token] = (request.queue, request.workflow_id)
                queue.waiters.pop(request.workflow_id, None)
                queue.starts.append(now)
            else:
                known = queue.waiters.get(request.workflow_id)
                queue.waiters[request.workflow_id] = Waiter(
                    request.workflow_id,
                    request.priority,
                    known.since if known is not None else now,
                    now + request.waiter_ttl,
                )
            return decision

    async def renew_queue_slots(self, tokens: Sequence[str], now: datetime, until: datetime) -> list[str]:
        renewed = []
        with self._slots_guard:
            for token in tokens:
                held = self._tokens.get(token)
                if held is None:
                    continue
                queue = self._queues[held[0]]
                current = queue.holders.get(held[1])
                if current is None or current[0] != token or current[1] <= now:
                    continue
                queue.holders[held[1]] = (token, until)
                renewed.append(token)
        return renewed

    async def release_queue_slot(self, token: str) -> None:
        with self._slots_guard:
            held = self._tokens.pop(token, None)
            if held is None:
                return
            queue = self._queues[held[0]]
            current = queue.holders.get(held[1])
            if current is not None and current[0] == token:
                del queue.holders[held[1]]

    async def queue_state(self, queue: str, now: datetime) -> QueueState:
        with self._slots_guard:
            found = self._queues.get(queue)
            if found is None:
                return QueueState()
            held = sorted(w for w, (_, expires) in found.holders.items() if expires > now)
            return QueueState(held=held, waiting=serving_order(list(found.waiters.values()), now))


__all__ = ["MemoryQueueSlots"]
