"""Queue names and the handle a dequeue returns."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class QueueType(StrEnum):
    WORKFLOW = "workflow"
    EVENT = "event"
    INDEX = "index"


@dataclass(frozen=True, slots=True)
class QueueItem:
    """An item taken from a queue. ``receipt`` identifies this delivery for ``ack``."""

    queue: QueueType
    item_id: str
    receipt: str
