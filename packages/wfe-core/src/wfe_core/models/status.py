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


# The members the engine compares against on every pass, as module constants: on Python 3.11 ``EnumType`` has a
# ``__getattr__``, so each member read off its class (``WorkflowStatus.RUNNABLE``) takes the slow path of
# attribute lookup, about a thousand machine instructions; a module constant is a dictionary lookup.
WORKFLOW_RUNNABLE = WorkflowStatus.RUNNABLE
WORKFLOW_COMPLETE = WorkflowStatus.COMPLETE
POINTER_PENDING = PointerStatus.PENDING
POINTER_RUNNING = PointerStatus.RUNNING
POINTER_COMPLETE = PointerStatus.COMPLETE
POINTER_SKIPPED = PointerStatus.SKIPPED
POINTER_PENDING_PREDECESSOR = PointerStatus.PENDING_PREDECESSOR

ENDED_POINTER_STATUSES = frozenset(
    {
        PointerStatus.COMPLETE,
        PointerStatus.SKIPPED,
        PointerStatus.FAILED,
        PointerStatus.COMPENSATED,
        PointerStatus.CANCELLED,
    }
)
