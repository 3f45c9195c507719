"""Status enums of instances and execution pointers (persisted by name)."""

from __future__ import annotations

from enum import StrEnum


class WorkflowStatus(StrEnum):
    """Where a workflow instance stands."""

    RUNNABLE = "Runnable"
    SUSPENDED = "Suspended"
    COMPLETE = "Complete"
    TERMINATED = "Terminated"


class PointerStatus(StrEnum):
    """Where one execution pointer (one activation of one step) stands."""

    PENDING = "Pending"
    RUNNING = "Running"
    COMPLETE = "Complete"
    SKIPPED = "Skipped"
    SLEEPING = "Sleeping"
    WAITING_FOR_EVENT = "WaitingForEvent"
    FAILED = "Failed"
    COMPENSATED = "Compensated"
    CANCELLED = "Cancelled"
    PENDING_PREDECESSOR = "PendingPredecessor"


ENDED_POINTER_STATUSES = frozenset(
    {
        PointerStatus.COMPLETE,
        PointerStatus.SKIPPED,
        PointerStatus.FAILED,
        PointerStatus.COMPENSATED,
        PointerStatus.CANCELLED,
    }
)
