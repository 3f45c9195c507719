"""Persisted models (instances, pointers, events, subscriptions) and the values steps exchange with the engine.

The names are imported on first use (PEP 562): ``from wfe_core.models import ErrorBehavior`` loads
``error_behavior`` alone, not the pydantic models of instances, events and lifecycle events (which
``wfe validate`` never needs). A name added here goes in :data:`_MODULES` and in the ``TYPE_CHECKING`` imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wfe_core.lazy_names import lazy_names

if TYPE_CHECKING:
    from wfe_core.models.artifact import ARTIFACT_KEY, ArtifactKind, ArtifactRef, is_artifact_data
    from wfe_core.models.error_behavior import ErrorBehavior, ErrorKind
    from wfe_core.models.event import (
        CommandName,
        Delivery,
        Event,
        EventSubscription,
        ScheduledCommand,
    )
    from wfe_core.models.event_names import ACTIVITY_EVENT_NAME, WORKFLOW_ENDED_EVENT_NAME
    from wfe_core.models.execution_error import ExecutionError
    from wfe_core.models.instance import ExecutionPointer, WorkflowInstance, new_id, to_jsonable
    from wfe_core.models.lifecycle import (
        LIFECYCLE_KINDS,
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
        lifecycle_kinds,
    )
    from wfe_core.models.lock import Lease
    from wfe_core.models.queue import QueueItem, QueueType
    from wfe_core.models.queue_slots import QueueState, SlotDecision, SlotRequest
    from wfe_core.models.result import ExecutionResult
    from wfe_core.models.schedule import CatchUp, Overlap, Schedule, merge_schedule
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
        data_strings,
        raw_tokens,
        search_terms,
        search_words,
        searchable_texts,
    )
    from wfe_core.models.status import ENDED_POINTER_STATUSES, PointerStatus, WorkflowStatus

_MODULES: dict[str, tuple[str, ...]] = {
    "artifact": ("ARTIFACT_KEY", "ArtifactKind", "ArtifactRef", "is_artifact_data"),
    "error_behavior": ("ErrorBehavior", "ErrorKind"),
    "event": ("CommandName", "Delivery", "Event", "EventSubscription", "ScheduledCommand"),
    "event_names": ("ACTIVITY_EVENT_NAME", "WORKFLOW_ENDED_EVENT_NAME"),
    "execution_error": ("ExecutionError",),
    "instance": ("ExecutionPointer", "WorkflowInstance", "new_id", "to_jsonable"),
    "lifecycle": (
        "LIFECYCLE_KINDS",
        "LifecycleEvent",
        "LifecycleEventBase",
        "StepCompleted",
        "StepStarted",
        "WaitingForEvent",
        "WorkflowCompleted",
        "WorkflowError",
        "WorkflowResumed",
        "WorkflowStarted",
        "WorkflowSuspended",
        "WorkflowTerminated",
        "lifecycle_event_adapter",
        "lifecycle_kinds",
    ),
    "lock": ("Lease",),
    "queue": ("QueueItem", "QueueType"),
    "queue_slots": ("QueueState", "SlotDecision", "SlotRequest"),
    "result": ("ExecutionResult",),
    "schedule": ("CatchUp", "Overlap", "Schedule", "merge_schedule"),
    "search": (
        "DataFilter",
        "DateRangeFilter",
        "DefinitionFilter",
        "Page",
        "ReferenceFilter",
        "SearchFilter",
        "StatusFilter",
        "StepSummary",
        "WorkflowSearchResult",
        "data_strings",
        "raw_tokens",
        "search_terms",
        "search_words",
        "searchable_texts",
    ),
    "status": ("ENDED_POINTER_STATUSES", "PointerStatus", "WorkflowStatus"),
}
"""Submodule (of this package) -> the names it gives this package."""

_WHERE = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "LIFECYCLE_KINDS",
    "CatchUp",
    "Overlap",
    "merge_schedule",
    "ACTIVITY_EVENT_NAME",
    "ARTIFACT_KEY",
    "ENDED_POINTER_STATUSES",
    "WORKFLOW_ENDED_EVENT_NAME",
    "ArtifactKind",
    "ArtifactRef",
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
    "QueueState",
    "QueueType",
    "ReferenceFilter",
    "Schedule",
    "ScheduledCommand",
    "SlotDecision",
    "SlotRequest",
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
    "data_strings",
    "is_artifact_data",
    "lifecycle_event_adapter",
    "lifecycle_kinds",
    "new_id",
    "raw_tokens",
    "search_terms",
    "search_words",
    "searchable_texts",
    "to_jsonable",
]


__getattr__, __dir__ = lazy_names("wfe_core.models", _WHERE, globals(), prefix="wfe_core.models.")
