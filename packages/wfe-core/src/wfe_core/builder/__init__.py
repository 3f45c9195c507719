"""The fluent workflow builder."""

from wfe_core.builder.step_builder import (
    BranchBuilder,
    DecideBuilder,
    ParallelBuilder,
    ScheduleBuilder,
    StepBuilder,
)
from wfe_core.builder.workflow_builder import WorkflowBuilder

__all__ = [
    "BranchBuilder",
    "DecideBuilder",
    "ParallelBuilder",
    "ScheduleBuilder",
    "StepBuilder",
    "WorkflowBuilder",
]
