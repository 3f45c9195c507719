"""wfe: a persistent, embeddable workflow engine for Python.

Define workflows with ``WorkflowBuilder``, run them on a ``WorkflowHost`` built by ``WorkflowHostBuilder``.

Names are imported on first use (PEP 562): ``import wfe`` alone is quick (a command line, an editor hook), and
``from wfe import X`` loads only what X needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wfe._activities import PendingActivity
    from wfe._artifact_store import LocalArtifactStore
    from wfe._host import WorkflowHost
    from wfe._host_builder import WorkflowHostBuilder
    from wfe._options import HostOptions
    from wfe_core.builder import WorkflowBuilder
    from wfe_core.definition import WorkflowDefinition
    from wfe_core.errors import (
        ActivityFailedError,
        ArtifactError,
        ArtifactNotFoundError,
        ChildWorkflowFailedError,
        ConfigurationError,
        DefinitionError,
        HostError,
        LeaseLostError,
        MissingExtraError,
        PersistenceError,
        PollTimeoutError,
        ProviderError,
        ProviderNotFoundError,
        ScheduleNotFoundError,
        UnstorableDataError,
        ValueRefusedError,
        WfeError,
        WorkflowDataError,
        WorkflowNameTakenError,
        WorkflowNotFoundError,
        WorkflowNotRegisteredError,
    )
    from wfe_core.models import (
        ArtifactRef,
        DataFilter,
        DateRangeFilter,
        DefinitionFilter,
        ErrorBehavior,
        ExecutionPointer,
        ExecutionResult,
        LifecycleEvent,
        PointerStatus,
        ReferenceFilter,
        Schedule,
        StatusFilter,
        StepCompleted,
        StepStarted,
        WaitingForEvent,
        WorkflowCompleted,
        WorkflowError,
        WorkflowInstance,
        WorkflowResumed,
        WorkflowStarted,
        WorkflowStatus,
        WorkflowSuspended,
        WorkflowTerminated,
    )
    from wfe_core.primitives import BodyContains, JsonPathCondition, PollCondition, PollResponse, StatusIn
    from wfe_core.step import StepBody, StepExecutionContext

__version__ = "0.1.0"

_LAZY = {
    "ActivityFailedError": "wfe_core.errors",
    "ArtifactError": "wfe_core.errors",
    "ArtifactNotFoundError": "wfe_core.errors",
    "ArtifactRef": "wfe_core.models",
    "BodyContains": "wfe_core.primitives",
    "ChildWorkflowFailedError": "wfe_core.errors",
    "ConfigurationError": "wfe_core.errors",
    "DataFilter": "wfe_core.models",
    "DateRangeFilter": "wfe_core.models",
    "DefinitionError": "wfe_core.errors",
    "DefinitionFilter": "wfe_core.models",
    "ErrorBehavior": "wfe_core.models",
    "ExecutionPointer": "wfe_core.models",
    "ExecutionResult": "wfe_core.models",
    "HostError": "wfe_core.errors",
    "HostOptions": "wfe._options",
    "JsonPathCondition": "wfe_core.primitives",
    "LeaseLostError": "wfe_core.errors",
    "LifecycleEvent": "wfe_core.models",
    "LocalArtifactStore": "wfe._artifact_store",
    "MissingExtraError": "wfe_core.errors",
    "PendingActivity": "wfe._activities",
    "PersistenceError": "wfe_core.errors",
    "PointerStatus": "wfe_core.models",
    "PollCondition": "wfe_core.primitives",
    "PollResponse": "wfe_core.primitives",
    "PollTimeoutError": "wfe_core.errors",
    "ProviderError": "wfe_core.errors",
    "ProviderNotFoundError": "wfe_core.errors",
    "ReferenceFilter": "wfe_core.models",
    "Schedule": "wfe_core.models",
    "ScheduleNotFoundError": "wfe_core.errors",
    "StatusFilter": "wfe_core.models",
    "StatusIn": "wfe_core.primitives",
    "StepBody": "wfe_core.step",
    "StepCompleted": "wfe_core.models",
    "StepExecutionContext": "wfe_core.step",
    "StepStarted": "wfe_core.models",
    "UnstorableDataError": "wfe_core.errors",
    "ValueRefusedError": "wfe_core.errors",
    "WaitingForEvent": "wfe_core.models",
    "WfeError": "wfe_core.errors",
    "WorkflowBuilder": "wfe_core.builder",
    "WorkflowCompleted": "wfe_core.models",
    "WorkflowDataError": "wfe_core.errors",
    "WorkflowDefinition": "wfe_core.definition",
    "WorkflowError": "wfe_core.models",
    "WorkflowHost": "wfe._host",
    "WorkflowHostBuilder": "wfe._host_builder",
    "WorkflowInstance": "wfe_core.models",
    "WorkflowNameTakenError": "wfe_core.errors",
    "WorkflowNotFoundError": "wfe_core.errors",
    "WorkflowNotRegisteredError": "wfe_core.errors",
    "WorkflowResumed": "wfe_core.models",
    "WorkflowStarted": "wfe_core.models",
    "WorkflowStatus": "wfe_core.models",
    "WorkflowSuspended": "wfe_core.models",
    "WorkflowTerminated": "wfe_core.models",
}

__all__ = [
    "ActivityFailedError",
    "BodyContains",
    "ArtifactError",
    "ArtifactNotFoundError",
    "ArtifactRef",
    "ChildWorkflowFailedError",
    "ConfigurationError",
    "DataFilter",
    "DateRangeFilter",
    "DefinitionError",
    "DefinitionFilter",
    "ErrorBehavior",
    "ExecutionPointer",
    "ExecutionResult",
    "HostError",
    "HostOptions",
    "JsonPathCondition",
    "LeaseLostError",
    "LifecycleEvent",
    "MissingExtraError",
    "LocalArtifactStore",
    "PendingActivity",
    "PersistenceError",
    "PollCondition",
    "PollResponse",
    "PollTimeoutError",
    "ValueRefusedError",
    "PointerStatus",
    "ProviderError",
    "ProviderNotFoundError",
    "Schedule",
    "ScheduleNotFoundError",
    "ReferenceFilter",
    "StatusFilter",
    "StatusIn",
    "StepBody",
    "StepCompleted",
    "StepExecutionContext",
    "StepStarted",
    "UnstorableDataError",
    "WaitingForEvent",
    "WfeError",
    "WorkflowBuilder",
    "WorkflowCompleted",
    "WorkflowDefinition",
    "WorkflowDataError",
    "WorkflowError",
    "WorkflowHost",
    "WorkflowHostBuilder",
    "WorkflowInstance",
    "WorkflowNameTakenError",
    "WorkflowNotFoundError",
    "WorkflowNotRegisteredError",
    "WorkflowResumed",
    "WorkflowStarted",
    "WorkflowStatus",
    "WorkflowSuspended",
    "WorkflowTerminated",
    "__version__",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'wfe' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
