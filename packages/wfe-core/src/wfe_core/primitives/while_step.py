"""While: repeats its branch while the condition holds, re-checking it after each iteration."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wfe_core.definition import call_flexible
from wfe_core.models import ExecutionResult
from wfe_core.primitives.container import CHILDREN_ACTIVE, ContainerStep
from wfe_core.step import StepExecutionContext


class While(ContainerStep):
    def __init__(self, condition: Callable[..., Any]) -> None:
        self.condition = condition

    def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        started = isinstance(ctx.persistence_data, dict) and ctx.persistence_data.get(CHILDREN_ACTIVE)
        if started and not ctx.workflow.is_branch_complete(ctx.pointer.id):
            return ExecutionResult.persist(ctx.persistence_data)
        if not call_flexible(self.condition, ctx.data, ctx):
            return ExecutionResult.next()
        return ExecutionResult.branch([ctx.item], {CHILDREN_ACTIVE: True})
