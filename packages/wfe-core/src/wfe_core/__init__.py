"""wfe-core: models, protocols, builder, executor, primitives, in-memory providers and testing tools of wfe.

Applications usually import from ``wfe``; provider authors build on ``wfe_core.protocols`` and check their work
with the conformance suites in ``wfe_core.testing``.

The names below are imported on first use (PEP 562), so ``import wfe_core.errors`` (or any light submodule)
does not pay for pydantic and the models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wfe_core.lazy_names import lazy_names

if TYPE_CHECKING:
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

_LAZY = {
    "ErrorBehavior": "wfe_core.models",
    "ExecutionPointer": "wfe_core.models",
    "ExecutionResult": "wfe_core.models",
    "PointerStatus": "wfe_core.models",
    "StepBody": "wfe_core.step",
    "StepExecutionContext": "wfe_core.step",
    "WfeError": "wfe_core.errors",
    "WorkflowBuilder": "wfe_core.builder",
    "WorkflowDefinition": "wfe_core.definition",
    "WorkflowInstance": "wfe_core.models",
    "WorkflowStatus": "wfe_core.models",
    "WorkflowStep": "wfe_core.definition",
}

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


__getattr__, __dir__ = lazy_names("wfe_core", _LAZY, globals())
