"""The queue protocol: at-least-once delivery of ids on the WORKFLOW, EVENT and INDEX queues."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from wfe_core.models import QueueItem, QueueType


@runtime_checkable
class QueueProvider(Protocol):
    """Reliable work queues of ids, one per ``QueueType``.

    Contract:

    * FIFO per queue as far as the backend allows; queues are independent of each other.
    * ``enqueue`` de-duplicates: an id already waiting (not yet taken) in that queue is not added again. An id
      that has been taken but not yet acked may be enqueued again (its state changed after the taker read it).
    * ``dequeue`` hands an item to one taker; the item stays invisible for the provider's visibility timeout.
      If it is not ``ack``-ed by then (the taker died), it is delivered again. Delivery is at-least-once.
    * ``ack`` is idempotent; acking after the visibility timeout lapsed must not remove a newer enqueue of the
      same id.
    * Connection loss never loses an enqueued item: calls raise ``QueueError`` and work again after reconnecting.
    """

    @property
    def is_dequeue_blocking(self) -> bool:
        """True when ``dequeue`` waits up to its timeout for an item (so callers need not sleep between polls)."""

    async def start(self) -> None:
        """Connect. Idempotent."""

    async def stop(self) -> None:
        """Disconnect. Idempotent; items waiting or in flight are kept."""

    async def enqueue(self, queue: QueueType, item_id: str) -> None:
        """Add ``item_id`` to ``queue`` unless it is already waiting there."""

    async def dequeue(self, queue: QueueType, *, timeout: float = 1.0) -> QueueItem | None:
        """Take the next item, waiting up to ``timeout`` seconds when blocking; None when there is none."""

    async def ack(self, item: QueueItem) -> None:
        """Confirm the item was handled; it will not be delivered again."""
