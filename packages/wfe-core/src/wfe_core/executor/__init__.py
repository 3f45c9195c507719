"""The executor: one pass over an instance, result processing, error handling and compensation."""

from wfe_core.executor.error_handler import RETRIES_EXHAUSTED
from wfe_core.executor.executor import StepMiddleware, WorkflowExecutor
from wfe_core.executor.pass_state import PassState

__all__ = ["RETRIES_EXHAUSTED", "PassState", "StepMiddleware", "WorkflowExecutor"]
