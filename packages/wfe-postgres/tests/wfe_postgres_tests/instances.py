"""Workflow instances for the tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from wfe_core.models import ExecutionPointer, PointerStatus, WorkflowInstance


def now() -> datetime:
    return datetime.now(UTC)


def make_instance(definition_id: str = "pizza", *, pointers: int = 1, data: Any = None) -> WorkflowInstance:
    """A runnable instance with ``pointers`` pending pointers."""
    return WorkflowInstance(
        workflow_definition_id=definition_id,
        version=1,
        data={"value": 7} if data is None else data,
        next_execution=now(),
        create_time=now(),
        execution_pointers=[
            ExecutionPointer(step_id=i, step_name=f"step-{i}", status=PointerStatus.PENDING)
            for i in range(pointers)
        ],
    )
