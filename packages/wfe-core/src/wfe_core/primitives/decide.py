"""Decide: proceeds with the value of an expression, so only the branches for that value run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from wfe_core.definition import call_flexible
from wfe_core.models import ExecutionResult
from wfe_core.step import StepBody, StepExecutionContext


class Decide(StepBody):
    run_in_thread: ClassVar[bool] = False

    def __init__(self, expression: Callable[..., Any]) -> None:
        self.expression = expression

    def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        return ExecutionResult.outcome(call_flexible(self.expression, ctx.data, ctx))
