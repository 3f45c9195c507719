"""Persisted models (instances, pointers, events, subscriptions) and the values steps exchange with the engine."""

from wfe_core.models.error_behavior import ErrorBehavior, ErrorKind
from wfe_core.models.event import (
    ACTIVITY_EVENT_NAME,
    WORKFLOW_ENDED_EVENT_NAME,
    CommandName,
    Delivery,
    Event,
    EventSubscription,
    ExecutionError,
    ScheduledCommand,
)
from wfe_core.models.instance import ExecutionPointer, WorkflowInstance, new_id, to_jsonable
from wfe_core.models.lifecycle import (
    LifecycleEvent,
    LifecycleEventBase,
    StepCompleted,
    StepStarted,
    WaitingForEvent,
    WorkflowCompleted,
    WorkflowError,
    WorkflowResumed,
    WorkflowStarted,
    WorkflowSuspended,
    WorkflowTerminated,
    lifecycle_event_adapter,
)
from wfe_core.models.lock import Lease
from wfe_core.models.queue import QueueItem, QueueType
from wfe_core.models.result import ExecutionResult
from wfe_core.models.search import (
    DataFilter,
    DateRangeFilter,
    DefinitionFilter,
    Page,
    ReferenceFilter,
    SearchFilter,
    StatusFilter,
    StepSummary,
    WorkflowSearchResult,
)
from wfe_core.models.status import ENDED_POINTER_STATUSES, PointerStatus, WorkflowStatus

__all__ = [
    "ACTIVITY_EVENT_NAME",
    "ENDED_POINTER_STATUSES",
    "WORKFLOW_ENDED_EVENT_NAME",
    "CommandName",
    "DataFilter",
    "DateRangeFilter",
    "DefinitionFilter",
    "Delivery",
    "ErrorBehavior",
    "ErrorKind",
    "Event",
    "EventSubscription",
    "ExecutionError",
    "ExecutionPointer",
    "ExecutionResult",
    "Lease",
    "LifecycleEvent",
    "LifecycleEventBase",
    "Page",
    "PointerStatus",
    "QueueItem",
    "QueueType",
    "ReferenceFilter",
    "ScheduledCommand",
    "SearchFilter",
    "StatusFilter",
    "StepCompleted",
    "StepStarted",
    "StepSummary",
    "WaitingForEvent",
    "WorkflowCompleted",
    "WorkflowError",
    "WorkflowInstance",
    "WorkflowResumed",
    "WorkflowSearchResult",
    "WorkflowStarted",
    "WorkflowStatus",
    "WorkflowSuspended",
    "WorkflowTerminated",
    "lifecycle_event_adapter",
    "new_id",
    "to_jsonable",
]
