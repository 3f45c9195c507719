"""wfe-core: models, protocols, builder, executor, primitives, in-memory providers and testing tools of wfe.

Applications usually import from ``wfe``; provider authors build on ``wfe_core.protocols`` and check their work
with the conformance suites in ``wfe_core.testing``.
"""

from wfe_core.builder import WorkflowBuilder
from wfe_core.definition import WorkflowDefinition, WorkflowStep
from wfe_core.errors import WfeError
from wfe_core.models import (
    ErrorBehavior,
    ExecutionPointer,
    ExecutionResult,
    PointerStatus,
    WorkflowInstance,
    WorkflowStatus,
)
from wfe_core.step import StepBody, StepExecutionContext

__version__ = "0.1.0"

__all__ = [
    "ErrorBehavior",
    "ExecutionPointer",
    "ExecutionResult",
    "PointerStatus",
    "StepBody",
    "StepExecutionContext",
    "WfeError",
    "WorkflowBuilder",
    "WorkflowDefinition",
    "WorkflowInstance",
    "WorkflowStatus",
    "WorkflowStep",
    "__version__",
]
