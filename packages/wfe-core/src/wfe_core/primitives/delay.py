"""Delay: a durable sleep."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, ClassVar

from wfe_core.definition import call_flexible
from wfe_core.models import ExecutionResult
from wfe_core.step import StepBody, StepExecutionContext


def as_timedelta(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    raise TypeError(f"expected a timedelta (or seconds), got {value!r}")


class Delay(StepBody):
    run_in_thread: ClassVar[bool] = False

    def __init__(self, duration: timedelta | Callable[..., Any]) -> None:
        self.duration = duration

    def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        if ctx.persistence_data is not None:
            return ExecutionResult.next()
        period = (
            self.duration
            if isinstance(self.duration, timedelta)
            else call_flexible(self.duration, ctx.data, ctx)
        )
        return ExecutionResult.sleep(as_timedelta(period), True)
