"""ForEach: one branch per item, all at once (parallel) or one after another (sequential)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wfe_core.definition import call_flexible
from wfe_core.models import ExecutionResult
from wfe_core.primitives.container import CHILDREN_ACTIVE, ContainerStep
from wfe_core.step import StepExecutionContext

INDEX = "index"


class ForEach(ContainerStep):
    def __init__(self, items: Callable[..., Any], *, parallel: bool = True) -> None:
        self.items = items
        self.parallel = parallel

    def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        state = ctx.persistence_data if isinstance(ctx.persistence_data, dict) else {}
        if state.get(CHILDREN_ACTIVE):
            if not ctx.workflow.is_branch_complete(ctx.pointer.id):
                return ExecutionResult.persist(state)
            if self.parallel:
                return ExecutionResult.next()
        items = list(call_flexible(self.items, ctx.data, ctx) or [])
        if self.parallel:
            if not items:
                return ExecutionResult.next()
            return ExecutionResult.branch(items, {CHILDREN_ACTIVE: True})
        index = state.get(INDEX, -1) + 1 if state.get(CHILDREN_ACTIVE) else 0
        if index >= len(items):
            return ExecutionResult.next()
        return ExecutionResult.branch([items[index]], {CHILDREN_ACTIVE: True, INDEX: index})
