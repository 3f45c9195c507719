"""OutcomeSwitch and When: ``.when(value, ...)`` blocks after a step that returned an outcome."""

from __future__ import annotations

from typing import Any

from wfe_core.models import ExecutionResult
from wfe_core.primitives.container import CHILDREN_ACTIVE, ContainerStep
from wfe_core.step import StepExecutionContext


class OutcomeSwitch(ContainerStep):
    """Starts every ``When`` child, carrying the outcome of the step before it; proceeds when all have ended."""

    def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        result = self.start_or_wait(ctx)
        if result.branch_values is not None:
            predecessor = ctx.pointer.predecessor_id
            outcome = None
            if predecessor is not None:
                for p in ctx.workflow.execution_pointers:
                    if p.id == predecessor:
                        outcome = p.outcome
                        break
            result.persistence_data = {CHILDREN_ACTIVE: True, "outcome": outcome}
        return result


class When(ContainerStep):
    """Runs its branch when the switch's outcome equals ``expected`` (or has the same string form)."""

    def __init__(self, expected: Any) -> None:
        self.expected = expected

    def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        started = isinstance(ctx.persistence_data, dict) and ctx.persistence_data.get(CHILDREN_ACTIVE)
        if not started:
            outcome = None
            if ctx.pointer.scope:
                switch = ctx.workflow.pointer(ctx.pointer.scope[0])
                if isinstance(switch.persistence_data, dict):
                    outcome = switch.persistence_data.get("outcome")
            if not (outcome == self.expected or str(outcome) == str(self.expected)):
                return ExecutionResult.next()
        return self.start_or_wait(ctx)
