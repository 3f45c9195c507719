"""The pattern containers share: branch once, wait for the branch to end, then proceed."""

from __future__ import annotations

from typing import Any, ClassVar

from wfe_core.models import ExecutionResult
from wfe_core.step import StepBody, StepExecutionContext

CHILDREN_ACTIVE = "children_active"


class ContainerStep(StepBody):
    """Base of built-in steps that run branches (sequence, parallel, if, while, for-each, saga, when)."""

    run_in_thread: ClassVar[bool] = False

    def start_or_wait(self, ctx: StepExecutionContext, values: list[Any] | None = None) -> ExecutionResult:
        """Branch with ``values`` (default: the current item) on the first run; afterwards persist until every
        pointer of the branch has ended, then proceed."""
        if not isinstance(ctx.persistence_data, dict) or not ctx.persistence_data.get(CHILDREN_ACTIVE):
            return ExecutionResult.branch([ctx.item] if values is None else values, {CHILDREN_ACTIVE: True})
        if ctx.workflow.is_branch_complete(ctx.pointer.id):
            return ExecutionResult.next()
        return ExecutionResult.persist(ctx.persistence_data)

    def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        return self.start_or_wait(ctx)
