"""The executor: one pass over an instance, result processing, error handling and compensation."""

from wfe_core.executor.executor import StepMiddleware, WorkflowExecutor
from wfe_core.executor.pass_state import PassState
from wfe_core.transitions import RETRIES_EXHAUSTED

__all__ = ["RETRIES_EXHAUSTED", "PassState", "StepMiddleware", "WorkflowExecutor"]
