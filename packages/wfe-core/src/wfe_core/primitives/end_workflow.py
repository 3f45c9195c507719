"""EndWorkflow: completes the workflow where it stands (the executor does the work)."""

from __future__ import annotations

from typing import ClassVar

from wfe_core.models import ExecutionResult
from wfe_core.step import StepBody, StepExecutionContext


class EndWorkflow(StepBody):
    run_in_thread: ClassVar[bool] = False

    def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        return ExecutionResult.next()
