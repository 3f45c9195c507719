"""wfe: a persistent, embeddable workflow engine for Python.

Define workflows with ``WorkflowBuilder``, run them on a ``WorkflowHost`` built by ``WorkflowHostBuilder``.
"""

from wfe._activities import PendingActivity
from wfe._host import WorkflowHost
from wfe._host_builder import WorkflowHostBuilder
from wfe._options import HostOptions
from wfe_core.builder import WorkflowBuilder
from wfe_core.definition import WorkflowDefinition
from wfe_core.errors import (
    ActivityFailedError,
    ChildWorkflowFailedError,
    DefinitionError,
    HostError,
    LeaseLostError,
    PersistenceError,
    ProviderError,
    ProviderNotFoundError,
    ScheduleNotFoundError,
    ValueRefusedError,
    WfeError,
    WorkflowDataError,
    WorkflowNameTakenError,
    WorkflowNotFoundError,
    WorkflowNotRegisteredError,
)
from wfe_core.models import (
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
from wfe_core.step import StepBody, StepExecutionContext

__version__ = "0.1.0"

__all__ = [
    "ActivityFailedError",
    "ChildWorkflowFailedError",
    "DataFilter",
    "DateRangeFilter",
    "DefinitionError",
    "DefinitionFilter",
    "ErrorBehavior",
    "ExecutionPointer",
    "ExecutionResult",
    "HostError",
    "HostOptions",
    "LeaseLostError",
    "LifecycleEvent",
    "PendingActivity",
    "PersistenceError",
    "ValueRefusedError",
    "PointerStatus",
    "ProviderError",
    "ProviderNotFoundError",
    "Schedule",
    "ScheduleNotFoundError",
    "ReferenceFilter",
    "StatusFilter",
    "StepBody",
    "StepCompleted",
    "StepExecutionContext",
    "StepStarted",
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
