"""A StepExecutionContext for running step bodies directly, and a log sink that records what it receives."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from wfe_core.definition import WorkflowDefinition, WorkflowStep
from wfe_core.models import ExecutionPointer, WorkflowInstance
from wfe_core.step import LogChunk, StepBody, StepExecutionContext


class RecordingSink:
    """Keeps every log chunk with the monotonic time it arrived."""

    def __init__(self) -> None:
        self.chunks: list[tuple[float, LogChunk]] = []

    def write(self, chunk: LogChunk) -> None:
        self.chunks.append((time.monotonic(), chunk))

    def lines(self, stream: str) -> list[str]:
        return [chunk.text for _, chunk in self.chunks if chunk.stream == stream]


def step_context(
    data: Any = None, *, step_name: str = "step", sink: RecordingSink | None = None
) -> StepExecutionContext:
    step = WorkflowStep(id=0, factory=StepBody, name=step_name)
    workflow = WorkflowInstance(
        id="wf-1",
        workflow_definition_id="yaml-test",
        version=1,
        data=data if data is not None else {},
        create_time=datetime.now(UTC),
    )
    pointer = ExecutionPointer(step_id=0, step_name=step_name)
    definition = WorkflowDefinition(id="yaml-test", version=1, steps=[step])
    return StepExecutionContext(
        workflow=workflow, step=step, pointer=pointer, definition=definition, log_sink=sink
    )
