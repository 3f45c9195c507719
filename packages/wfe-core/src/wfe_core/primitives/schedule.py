"""Schedule and Recur: branches that run in the background, once after a delay or repeatedly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wfe_core.definition import call_flexible
from wfe_core.models import ExecutionResult
from wfe_core.primitives.container import CHILDREN_ACTIVE, ContainerStep
from wfe_core.primitives.delay import as_timedelta
from wfe_core.step import StepExecutionContext

ELAPSED = "elapsed"


class Schedule(ContainerStep):
    """Sleeps for the interval, then runs its branch once and proceeds when it has ended."""

    def __init__(self, interval: Callable[..., Any]) -> None:
        self.interval = interval

    def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        state = ctx.persistence_data if isinstance(ctx.persistence_data, dict) else None
        if state is None:
            return ExecutionResult.sleep(
                as_timedelta(call_flexible(self.interval, ctx.data, ctx)), {ELAPSED: False}
            )
        if not state.get(ELAPSED):
            return ExecutionResult.branch([ctx.item], {ELAPSED: True, CHILDREN_ACTIVE: True})
        if ctx.workflow.is_branch_complete(ctx.pointer.id):
            return ExecutionResult.next()
        return ExecutionResult.persist(state)


class Recur(ContainerStep):
    """Every interval, starts a new run of its branch, until ``until(data)`` holds (then it is cancelled)."""

    def __init__(self, interval: Callable[..., Any], until: Callable[..., Any]) -> None:
        self.interval = interval
        self.until = until

    def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        if call_flexible(self.until, ctx.data, ctx):
            return ExecutionResult.next()
        result = ExecutionResult.branch([ctx.item], {CHILDREN_ACTIVE: True})
        result.sleep_for = as_timedelta(call_flexible(self.interval, ctx.data, ctx))
        return result
