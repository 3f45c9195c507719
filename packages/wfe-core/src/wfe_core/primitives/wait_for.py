"""WaitFor: pauses until a matching event is published; the event's data is then in ``event_data``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

from wfe_core.definition import call_flexible
from wfe_core.models import ExecutionResult
from wfe_core.step import StepBody, StepExecutionContext


class WaitFor(StepBody):
    run_in_thread: ClassVar[bool] = False

    def __init__(
        self,
        event_name: str,
        event_key: str | Callable[..., Any],
        effective_date: datetime | Callable[..., Any] | None = None,
    ) -> None:
        self.event_name = event_name
        self.event_key = event_key
        self.effective_date = effective_date
        self.event_data: Any = None

    def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        if ctx.pointer.event_published:
            self.event_data = ctx.pointer.event_data
            return ExecutionResult.next()
        key = (
            self.event_key
            if isinstance(self.event_key, str)
            else call_flexible(self.event_key, ctx.data, ctx)
        )
        when = self.effective_date
        if when is not None and not isinstance(when, datetime):
            when = call_flexible(when, ctx.data, ctx)
        return ExecutionResult.wait_for_event(
            self.event_name, str(key), when if isinstance(when, datetime) else None
        )
