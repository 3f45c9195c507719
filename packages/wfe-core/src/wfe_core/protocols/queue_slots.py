"""The optional store side of queues with limits: slots with leases shared by every host of a store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from wfe_core.models.queue_slots import QueueState, SlotDecision, SlotRequest


@runtime_checkable
class QueueSlotStore(Protocol):
    """Slots of named queues, shared by every host on the store (a persistence provider, or a queue provider,
    may implement it; a host needs one for a queue with ``concurrency``, ``rate_limit`` or ``priority``).

    Contract (``wfe_core.testing.QueueSlotSuite`` checks it):

    * ``acquire_queue_slot`` decides atomically across every host and process on the store, at the time
      ``request.at_decision()`` gives when called inside the atomic section: it grants a slot only when, then, fewer than ``concurrency`` unexpired slots of the queue are held (not
      counting one the same instance holds, which the grant replaces: one slot per instance), fewer than
      ``count`` slots were granted within the last ``period`` of a rate limit, and fewer live waiters are ahead
      of the instance than there are free slots. A waiter is ahead when its priority is lower, or equal and it
      first asked earlier; a waiter is live while it asked within ``waiter_ttl``. A refused request records
      (or refreshes) the instance as a waiter; a granted one removes it and counts one start for the rate
      limit. A refusal by the rate limit gives ``retry_at``: when the oldest start of the window leaves it.
    * A slot lapses at ``expires_at`` unless renewed: the slot of a host that died is freed with its lease.
    * ``renew_queue_slots`` moves the expiry of the given tokens to ``until`` and returns the tokens it renewed
      (a token lapsed at ``now``, or one replaced by a newer grant for its instance, is not renewed).
    * ``release_queue_slot`` frees the slot of ``token``; idempotent, and frees nothing of a newer grant.
    * ``queue_state`` reports the holders and the live waiters in serving order, at ``now``.
    """

    async def acquire_queue_slot(self, request: SlotRequest) -> SlotDecision:
        """Grant a slot of ``request.queue`` to ``request.workflow_id``, or record it as waiting."""

    async def renew_queue_slots(self, tokens: Sequence[str], now: datetime, until: datetime) -> list[str]:
        """Extend the slots of ``tokens`` to ``until``; the tokens renewed."""

    async def release_queue_slot(self, token: str) -> None:
        """Free the slot of ``token`` (idempotent)."""

    async def queue_state(self, queue: str, now: datetime) -> QueueState:
        """The holders and the live waiters (in serving order) of ``queue`` at ``now``."""


__all__ = ["QueueSlotStore"]
