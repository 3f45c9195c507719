"""An inline step: a function of the context (``then_fn``)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, ClassVar

from wfe_core.models import ExecutionResult
from wfe_core.step import StepBody, StepExecutionContext


class InlineStep(StepBody):
    """Runs ``fn(ctx)``; a coroutine function is awaited, a plain one runs in a worker thread. None means next."""

    run_in_thread: ClassVar[bool] = False

    def __init__(self, fn: Callable[[StepExecutionContext], Any]) -> None:
        self.fn = fn

    async def run(self, ctx: StepExecutionContext) -> ExecutionResult | None:
        if inspect.iscoroutinefunction(self.fn):
            result = await self.fn(ctx)
        else:
            import asyncio  # loaded by then (this runs in the loop); not at the top, for wfe validate

            result = await asyncio.to_thread(self.fn, ctx)
            if inspect.isawaitable(result):
                result = await result
        return result if isinstance(result, ExecutionResult) else None
