"""Activity: waits for an external worker to take the task and report its result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from wfe_core.definition import call_flexible
from wfe_core.errors import ActivityFailedError
from wfe_core.models import ExecutionResult
from wfe_core.step import StepBody, StepExecutionContext

SUCCESS = "success"
FAILURE = "failure"


class Activity(StepBody):
    """After the worker's success ``result`` holds what it submitted; a failure raises ActivityFailedError."""

    run_in_thread: ClassVar[bool] = False

    def __init__(self, name: str, parameters: Callable[..., Any] | None = None) -> None:
        self.name = name
        self.parameters = parameters
        self.result: Any = None

    def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        if ctx.pointer.event_published:
            outcome = ctx.pointer.event_data if isinstance(ctx.pointer.event_data, dict) else {}
            if outcome.get("status") == FAILURE:
                # Consume the failure so a retry waits for a new worker result.
                ctx.pointer.event_published = False
                raise ActivityFailedError(self.name, outcome.get("data"))
            self.result = outcome.get("data")
            return ExecutionResult.next()
        params = call_flexible(self.parameters, ctx.data, ctx) if self.parameters is not None else None
        return ExecutionResult.wait_for_activity(self.name, params)
